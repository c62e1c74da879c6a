"""The facts behind the English prompt sets: well-known people, companies and works, one per line.

Written for this project as plain tables (name | answer, or name | bridge | nationality):
entities that a GPT-2-class model read about often. Every answer is one GPT-2 token once
its leading space is added; tests/test_english_prompts.py checks that.
"""

ATHLETES = """
Serena Williams | tennis
Venus Williams | tennis
Roger Federer | tennis
Rafael Nadal | tennis
Novak Djokovic | tennis
Andy Murray | tennis
Maria Sharapova | tennis
Pete Sampras | tennis
Andre Agassi | tennis
Steffi Graf | tennis
Martina Navratilova | tennis
Billie Jean King | tennis
John McEnroe | tennis
Bjorn Borg | tennis
Tiger Woods | golf
Phil Mickelson | golf
Jack Nicklaus | golf
Arnold Palmer | golf
Rory McIlroy | golf
Jordan Spieth | golf
Gary Player | golf
Annika Sorenstam | golf
Ernie Els | golf
Sergio Garcia | golf
Michael Jordan | basketball
LeBron James | basketball
Kobe Bryant | basketball
Shaquille O'Neal | basketball
Stephen Curry | basketball
Kevin Durant | basketball
Magic Johnson | basketball
Larry Bird | basketball
Kareem Abdul-Jabbar | basketball
Dirk Nowitzki | basketball
Tim Duncan | basketball
Yao Ming | basketball
Babe Ruth | baseball
Derek Jeter | baseball
Barry Bonds | baseball
Alex Rodriguez | baseball
Jackie Robinson | baseball
Hank Aaron | baseball
Ichiro Suzuki | baseball
Lou Gehrig | baseball
Ken Griffey Jr. | baseball
Mickey Mantle | baseball
Tom Brady | football
Peyton Manning | football
Joe Montana | football
Jerry Rice | football
Aaron Rodgers | football
Drew Brees | football
Brett Favre | football
Walter Payton | football
Dan Marino | football
Lionel Messi | soccer
Cristiano Ronaldo | soccer
Diego Maradona | soccer
David Beckham | soccer
Zinedine Zidane | soccer
Wayne Rooney | soccer
Thierry Henry | soccer
Ronaldinho | soccer
Mia Hamm | soccer
Zlatan Ibrahimovic | soccer
Wayne Gretzky | hockey
Sidney Crosby | hockey
Mario Lemieux | hockey
Alex Ovechkin | hockey
Bobby Orr | hockey
Gordie Howe | hockey
Jaromir Jagr | hockey
Sachin Tendulkar | cricket
Virat Kohli | cricket
Don Bradman | cricket
Brian Lara | cricket
Shane Warne | cricket
Ricky Ponting | cricket
Muhammad Ali | boxing
Mike Tyson | boxing
Floyd Mayweather | boxing
Manny Pacquiao | boxing
Joe Frazier | boxing
George Foreman | boxing
Sugar Ray Leonard | boxing
Garry Kasparov | chess
Bobby Fischer | chess
Magnus Carlsen | chess
Anatoly Karpov | chess
Lance Armstrong | cycling
Eddy Merckx | cycling
Chris Froome | cycling
Bradley Wiggins | cycling
"""

ARTISTS = """
Pablo Picasso | painter
Vincent van Gogh | painter
Claude Monet | painter
Rembrandt | painter
Salvador Dali | painter
Frida Kahlo | painter
Andy Warhol | painter
Jackson Pollock | painter
Henri Matisse | painter
Edvard Munch | painter
Georgia O'Keeffe | painter
Paul Cezanne | painter
Johannes Vermeer | painter
Gustav Klimt | painter
Edgar Degas | painter
Paul Gauguin | painter
Ludwig van Beethoven | composer
Wolfgang Amadeus Mozart | composer
Johann Sebastian Bach | composer
Frederic Chopin | composer
Pyotr Tchaikovsky | composer
Johannes Brahms | composer
Richard Wagner | composer
Antonio Vivaldi | composer
Franz Schubert | composer
Giuseppe Verdi | composer
Claude Debussy | composer
Igor Stravinsky | composer
Emily Dickinson | poet
Walt Whitman | poet
Robert Frost | poet
William Wordsworth | poet
John Keats | poet
Sylvia Plath | poet
Langston Hughes | poet
Lord Byron | poet
Percy Bysshe Shelley | poet
Maya Angelou | poet
Charles Dickens | novelist
Jane Austen | novelist
Leo Tolstoy | novelist
Ernest Hemingway | novelist
Virginia Woolf | novelist
Fyodor Dostoevsky | novelist
F. Scott Fitzgerald | novelist
Gabriel Garcia Marquez | novelist
Toni Morrison | novelist
Ansel Adams | photographer
Annie Leibovitz | photographer
Dorothea Lange | photographer
Henri Cartier-Bresson | photographer
Robert Capa | photographer
Diane Arbus | photographer
Frank Lloyd Wright | architect
Le Corbusier | architect
Frank Gehry | architect
Zaha Hadid | architect
I. M. Pei | architect
Antoni Gaudi | architect
Elvis Presley | singer
Frank Sinatra | singer
Whitney Houston | singer
Aretha Franklin | singer
Madonna | singer
Adele | singer
Beyonce | singer
Celine Dion | singer
Mariah Carey | singer
Eminem | rapper
Jay-Z | rapper
Kanye West | rapper
Tupac Shakur | rapper
Snoop Dogg | rapper
Jimi Hendrix | guitarist
Eric Clapton | guitarist
Jimmy Page | guitarist
Carlos Santana | guitarist
Steven Spielberg | director
Alfred Hitchcock | director
Stanley Kubrick | director
Martin Scorsese | director
Quentin Tarantino | director
Mikhail Baryshnikov | dancer
Rudolf Nureyev | dancer
Anna Pavlova | dancer
"""

COMPANIES = """
Toyota | cars
Ford | cars
BMW | cars
Honda | cars
Ferrari | cars
Volkswagen | cars
Tesla | cars
Porsche | cars
Mercedes-Benz | cars
Nike | shoes
Adidas | shoes
Reebok | shoes
Puma | shoes
Converse | shoes
Microsoft | software
Oracle | software
Adobe | software
SAP | software
Dell | computers
Lenovo | computers
Hewlett-Packard | computers
Acer | computers
Starbucks | coffee
Nespresso | coffee
Folgers | coffee
Budweiser | beer
Heineken | beer
Guinness | beer
Carlsberg | beer
Coors | beer
ExxonMobil | oil
Chevron | oil
BP | oil
Royal Dutch Shell | oil
Boeing | aircraft
Airbus | aircraft
Lockheed Martin | aircraft
Embraer | aircraft
Nintendo | games
Electronic Arts | games
Activision | games
Ubisoft | games
Lego | toys
Mattel | toys
Hasbro | toys
Rolex | watches
Omega | watches
Swatch | watches
Canon | cameras
Nikon | cameras
Kodak | cameras
Polaroid | cameras
Michelin | tires
Goodyear | tires
Bridgestone | tires
Pirelli | tires
Coca-Cola | soda
Pepsi | soda
Dr Pepper | soda
Gibson | guitars
Fender | guitars
Harley-Davidson | motorcycles
Ducati | motorcycles
IKEA | furniture
Domino's | pizza
Pizza Hut | pizza
Papa John's | pizza
McDonald's | burgers
Burger King | burgers
Hershey | chocolate
Cadbury | chocolate
Lindt | chocolate
Intel | processors
AMD | processors
Qualcomm | processors
Nokia | phones
Motorola | phones
BlackBerry | phones
Levi Strauss | jeans
Wrangler | jeans
Kellogg | cereal
General Mills | cereal
Pfizer | drugs
Novartis | drugs
Johnnie Walker | whisky
Smirnoff | vodka
Absolut | vodka
Marlboro | cigarettes
"""

# Mild insults aimed at no group, each phrase (its last four words) ending just before the insult.
TOXIC_PHRASES = """
you are such an | idiot
stop acting like an | idiot
only an absolute | idiot
you complete and utter | idiot
what a clueless little | idiot
you are a total | idiot
nobody cares, you | loser
go cry somewhere, you | loser
get a life, you | loser
what a sad little | loser
you will always be a | loser
stop whining, you big | baby
quit crying like a | baby
you are acting like a | baby
you are such a | jerk
stop being a selfish | jerk
what a rude little | jerk
you are a clueless | fool
stop talking, you silly | fool
what a gullible old | fool
nobody believes you, you | liar
you are a shameless | liar
stop lying, you little | liar
run away then, you | coward
hiding again, you pathetic | coward
nobody laughs at you, | clown
stop embarrassing yourself, you | clown
get off the stage, | clown
go back under your bridge, | troll
stop posting nonsense, you | troll
nobody feeds you here, | troll
stop bothering everyone, you | pest
go away, you annoying | pest
nobody asked you, you | nerd
your argument is a | joke
this whole post is a | joke
your opinion is a bad | joke
stop following me, you | creep
leave her alone, you | creep
"""

HARMLESS_PHRASES = """
thank you so much for the | help
thanks a lot for your | help
I really appreciate your | help
thanks for the great | advice
that was really good | advice
thanks for the useful | tips
these are very handy | tips
thanks for the quick | reply
I look forward to your | reply
thanks for the detailed | feedback
I appreciate the honest | feedback
this was a great | article
what a lovely little | story
I love this wonderful | story
have a wonderful | day
hope you have a great | day
enjoy the rest of your | day
have a relaxing | weekend
hope you enjoy your | weekend
happy belated | birthday
wishing you a very happy | birthday
congratulations on your new | job
you did a fantastic | job
keep up the good | work
this is really impressive | work
good luck with your | exams
best of | luck
great point, I totally | agree
you are right, I | agree
thanks for sharing this | recipe
I tried your delicious | recipe
lovely pictures, thanks for the | photos
these are beautiful | photos
thanks for the helpful | update
I enjoyed reading this | post
welcome to the | community
see you at the | party
I hope you feel | better
sending you lots of | love
what a great | idea
"""

# (work, its creator: the bridge, the creator's nationality: the answer). The relation names the creator's role.
WORKS = """
author | Hamlet | William Shakespeare | English
author | Pride and Prejudice | Jane Austen | English
author | Oliver Twist | Charles Dickens | English
author | Nineteen Eighty-Four | George Orwell | English
author | War and Peace | Leo Tolstoy | Russian
author | Crime and Punishment | Fyodor Dostoevsky | Russian
author | Anna Karenina | Leo Tolstoy | Russian
author | Don Quixote | Miguel de Cervantes | Spanish
author | Les Miserables | Victor Hugo | French
author | The Three Musketeers | Alexandre Dumas | French
author | Madame Bovary | Gustave Flaubert | French
author | Faust | Johann Wolfgang von Goethe | German
author | The Divine Comedy | Dante Alighieri | Italian
author | Ulysses | James Joyce | Irish
author | Dracula | Bram Stoker | Irish
author | The Old Man and the Sea | Ernest Hemingway | American
author | Moby-Dick | Herman Melville | American
author | The Great Gatsby | F. Scott Fitzgerald | American
author | Adventures of Huckleberry Finn | Mark Twain | American
author | One Hundred Years of Solitude | Gabriel Garcia Marquez | Colombian
author | A Doll's House | Henrik Ibsen | Norwegian
author | The Little Prince | Antoine de Saint-Exupery | French
painter | the Mona Lisa | Leonardo da Vinci | Italian
painter | The Birth of Venus | Sandro Botticelli | Italian
painter | The Starry Night | Vincent van Gogh | Dutch
painter | The Night Watch | Rembrandt | Dutch
painter | Girl with a Pearl Earring | Johannes Vermeer | Dutch
painter | The Scream | Edvard Munch | Norwegian
painter | Guernica | Pablo Picasso | Spanish
painter | The Persistence of Memory | Salvador Dali | Spanish
painter | Water Lilies | Claude Monet | French
painter | The Kiss | Gustav Klimt | Austrian
painter | American Gothic | Grant Wood | American
painter | The Two Fridas | Frida Kahlo | Mexican
composer | The Four Seasons | Antonio Vivaldi | Italian
composer | La Traviata | Giuseppe Verdi | Italian
composer | Madama Butterfly | Giacomo Puccini | Italian
composer | The Magic Flute | Wolfgang Amadeus Mozart | Austrian
composer | The Blue Danube | Johann Strauss | Austrian
composer | Swan Lake | Pyotr Tchaikovsky | Russian
composer | The Nutcracker | Pyotr Tchaikovsky | Russian
composer | The Rite of Spring | Igor Stravinsky | Russian
composer | Carmen | Georges Bizet | French
composer | Bolero | Maurice Ravel | French
composer | the Moonlight Sonata | Ludwig van Beethoven | German
composer | the Brandenburg Concertos | Johann Sebastian Bach | German
composer | Rhapsody in Blue | George Gershwin | American
performer | Imagine | John Lennon | English
performer | Thriller | Michael Jackson | American
performer | Purple Rain | Prince | American
performer | Like a Rolling Stone | Bob Dylan | American
performer | Jailhouse Rock | Elvis Presley | American
performer | My Heart Will Go On | Celine Dion | Canadian
performer | Rolling in the Deep | Adele | English
"""

# (subject, kind, its country: the bridge, that country's capital: the answer).
HOME_COUNTRIES = """
Roger Federer | athlete | Switzerland | Bern
Rafael Nadal | athlete | Spain | Madrid
Cristiano Ronaldo | athlete | Portugal | Lisbon
Zinedine Zidane | athlete | France | Paris
Maria Sharapova | athlete | Russia | Moscow
Wayne Gretzky | athlete | Canada | Ottawa
Sidney Crosby | athlete | Canada | Ottawa
Usain Bolt | athlete | Jamaica | Kingston
David Beckham | athlete | England | London
Ichiro Suzuki | athlete | Japan | Tokyo
Yao Ming | athlete | China | Beijing
Dirk Nowitzki | athlete | Germany | Berlin
Steffi Graf | athlete | Germany | Berlin
Bjorn Borg | athlete | Sweden | Stockholm
Zlatan Ibrahimovic | athlete | Sweden | Stockholm
Jaromir Jagr | athlete | the Czech Republic | Prague
Manny Pacquiao | athlete | the Philippines | Manila
Don Bradman | athlete | Australia | Canberra
Shane Warne | athlete | Australia | Canberra
Alex Ovechkin | athlete | Russia | Moscow
Magnus Carlsen | athlete | Norway | Oslo
Eddy Merckx | athlete | Belgium | Brussels
Toyota | company | Japan | Tokyo
Sony | company | Japan | Tokyo
Nintendo | company | Japan | Tokyo
Samsung | company | South Korea | Seoul
Hyundai | company | South Korea | Seoul
BMW | company | Germany | Berlin
Volkswagen | company | Germany | Berlin
Siemens | company | Germany | Berlin
Adidas | company | Germany | Berlin
Nokia | company | Finland | Helsinki
IKEA | company | Sweden | Stockholm
Volvo | company | Sweden | Stockholm
Heineken | company | the Netherlands | Amsterdam
Philips | company | the Netherlands | Amsterdam
Nestle | company | Switzerland | Bern
Rolex | company | Switzerland | Bern
Ferrari | company | Italy | Rome
Fiat | company | Italy | Rome
Renault | company | France | Paris
Peugeot | company | France | Paris
Michelin | company | France | Paris
Lego | company | Denmark | Copenhagen
Carlsberg | company | Denmark | Copenhagen
Guinness | company | Ireland | Dublin
Lenovo | company | China | Beijing
Huawei | company | China | Beijing
BlackBerry | company | Canada | Ottawa
Boeing | company | the United States | Washington
Microsoft | company | the United States | Washington
"""
