"""Word lists the demo catalogue and the demo users are generated from (deterministically)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CategorySpec:
    """Vocabulary of one top-level category; titles are `adjective brand noun (suffix)`."""

    brands: tuple[str, ...]
    # subcategory (or "" for the top-level category itself) -> nouns
    nouns: dict[str, tuple[str, ...]]
    adjectives: tuple[str, ...]
    # starting price range in major units
    price_range: tuple[int, int]
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    suffixes: tuple[str, ...] = ()


CATALOG: dict[str, CategorySpec] = {
    "antiques": CategorySpec(
        brands=("Georgian", "Victorian", "Edwardian", "Art Deco", "Biedermeier", "Regency"),
        nouns={
            "furniture": ("Mahogany Writing Desk", "Oak Sideboard", "Walnut Armchair"),
            "silver": ("Sterling Tea Service", "Silver Candlesticks", "Hallmarked Salver"),
            "clocks": ("Bracket Clock", "Longcase Clock", "Carriage Clock"),
            "maps": ("County Map", "Hand-Coloured Atlas Page", "Sea Chart"),
        },
        adjectives=("Fine", "Rare", "Original", "Restored", "Handsome", "Signed"),
        price_range=(80, 2500),
        attributes={
            "era": ("1820s", "1870s", "1890s", "1910s", "1930s"),
            "origin": ("England", "France", "Austria", "Netherlands"),
        },
        suffixes=("c. 1880", "c. 1905", "with Provenance", "Museum Quality"),
    ),
    "art": CategorySpec(
        brands=("Impressionist", "Abstract", "Modernist", "Contemporary", "Pop Art", "Folk"),
        nouns={
            "paintings": ("Oil on Canvas Landscape", "Acrylic Seascape", "Portrait Study"),
            "prints": ("Signed Lithograph", "Limited Screenprint", "Etching"),
            "sculpture": ("Bronze Figure", "Marble Bust", "Carved Wood Sculpture"),
            "photography": ("Gelatin Silver Print", "Archival Pigment Print", "Platinum Print"),
        },
        adjectives=("Signed", "Framed", "Gallery", "Large", "Vibrant", "Numbered"),
        price_range=(60, 4000),
        attributes={
            "medium": ("oil", "acrylic", "bronze", "paper", "mixed media"),
            "framed": ("yes", "no"),
        },
        suffixes=("Edition of 50", "with COA", "Exhibited 1998"),
    ),
    "books": CategorySpec(
        brands=("Penguin", "Folio Society", "Marvel", "DC", "Oxford", "Everyman"),
        nouns={
            "rare": ("First Edition Novel", "Signed Poetry Volume", "Leather-Bound Classics Set"),
            "comics": ("Key Issue Comic", "Graphic Novel Omnibus", "Golden Age Comic"),
            "textbooks": ("Calculus Textbook", "Organic Chemistry Text", "Physics Handbook"),
        },
        adjectives=("Collectible", "Pristine", "Scarce", "Complete", "Illustrated"),
        price_range=(10, 900),
        attributes={
            "binding": ("hardcover", "paperback", "leather"),
            "language": ("English", "French", "German"),
        },
        suffixes=("1st Printing", "CGC 9.2", "Boxed Set"),
    ),
    "cameras": CategorySpec(
        brands=("Leica", "Canon", "Nikon", "Fujifilm", "Sony", "Hasselblad", "DJI", "Olympus"),
        nouns={
            "digital": ("Mirrorless Body", "Full-Frame DSLR", "Compact Camera"),
            "film": ("35mm Rangefinder", "Medium Format SLR", "Point-and-Shoot"),
            "lenses": ("50mm f/1.4 Prime", "24-70mm f/2.8 Zoom", "85mm Portrait Lens"),
            "drones": ("Folding Drone", "4K Quadcopter", "FPV Drone Kit"),
        },
        adjectives=("Mint", "Boxed", "Clean", "Pro", "Low-Shutter-Count", "Serviced"),
        price_range=(60, 3000),
        attributes={
            "mount": ("M", "EF", "F", "X", "E"),
            "shutter_count": ("1200", "8500", "23000", "51000"),
        },
        suffixes=("with Strap", "Kit", "with 2 Batteries"),
    ),
    "coins": CategorySpec(
        brands=("Morgan", "Walking Liberty", "Britannia", "Krugerrand", "Maple Leaf", "Sovereign"),
        nouns={
            "us": ("Silver Dollar", "Half Dollar", "Proof Set"),
            "world": ("Crown", "Gold Coin", "Commemorative Coin"),
            "bullion": ("1 oz Silver Round", "1 oz Gold Coin", "10 oz Silver Bar"),
        },
        adjectives=("Uncirculated", "Graded", "Proof", "Toned", "Brilliant"),
        price_range=(25, 2500),
        attributes={
            "grade": ("MS-63", "MS-65", "PR-69", "AU-58", "XF-45"),
            "year": ("1881", "1921", "1945", "1986", "2020"),
        },
        suffixes=("PCGS Slabbed", "NGC Certified", "in Capsule"),
    ),
    "collectibles": CategorySpec(
        brands=("Pokemon", "Topps", "LEGO", "Hot Wheels", "Star Wars", "Penny Black"),
        nouns={
            "trading-cards": ("Holo Rare Card", "Rookie Card", "Booster Box"),
            "stamps": ("Stamp Album", "Mint Block of Four", "First Day Cover"),
            "toys": ("Sealed Set", "Action Figure", "Die-Cast Car"),
            "memorabilia": ("Signed Poster", "Movie Prop Replica", "Concert Ticket Stub"),
        },
        adjectives=("Vintage", "Sealed", "Graded", "Rare", "Complete"),
        price_range=(15, 1500),
        attributes={
            "graded": ("PSA 9", "PSA 10", "BGS 9.5", "ungraded"),
            "series": ("Base Set", "Series 1", "Classic", "Anniversary"),
        },
        suffixes=("Factory Sealed", "with Box", "1st Edition"),
    ),
    "computers": CategorySpec(
        brands=("Apple", "Lenovo", "Dell", "HP", "ASUS", "Framework", "Commodore", "IBM"),
        nouns={
            "laptops": ("ThinkPad X1", "MacBook Pro 14", "XPS 13", "ZenBook"),
            "desktops": ("Mac mini", "Workstation Tower", "Small Form Factor PC"),
            "components": ("RTX Graphics Card", "32GB DDR5 Kit", "2TB NVMe SSD"),
            "vintage": ("Amiga 500", "Model M Keyboard", "Macintosh SE"),
        },
        adjectives=("Refurbished", "Upgraded", "Fast", "Boxed", "Lightly Used"),
        price_range=(40, 2500),
        attributes={
            "ram_gb": ("8", "16", "32", "64"),
            "storage": ("256GB SSD", "512GB SSD", "1TB SSD", "2TB HDD"),
        },
        suffixes=("2023", "Warranty Remaining", "with Charger"),
    ),
    "electronics": CategorySpec(
        brands=("Apple", "Samsung", "Sony", "Bose", "LG", "Nintendo", "Sennheiser", "Google"),
        nouns={
            "phones": ("iPhone 15", "Galaxy S24", "Pixel 8", "Foldable Phone"),
            "audio": ("Noise-Cancelling Headphones", "Bookshelf Speakers", "Turntable"),
            "tv-video": ("65in OLED TV", "4K Projector", "Soundbar"),
            "gaming": ("Switch Console", "PlayStation 5", "Handheld Console"),
        },
        adjectives=("Unlocked", "Like-New", "Boxed", "Flagship", "Wireless"),
        price_range=(30, 1800),
        attributes={
            "color": ("black", "silver", "white", "blue"),
            "warranty": ("none", "3 months", "12 months"),
        },
        suffixes=("128GB", "256GB", "with Accessories"),
    ),
    "fashion": CategorySpec(
        brands=("Rolex", "Omega", "Hermes", "Gucci", "Prada", "Seiko", "Nike", "Burberry"),
        nouns={
            "watches": ("Automatic Diver", "Chronograph", "Dress Watch"),
            "jewelry": ("Gold Necklace", "Diamond Ring", "Pearl Earrings"),
            "bags": ("Leather Tote", "Crossbody Bag", "Weekender"),
            "shoes": ("Limited Sneakers", "Leather Loafers", "Chelsea Boots"),
            "clothing": ("Trench Coat", "Cashmere Sweater", "Denim Jacket"),
        },
        adjectives=("Authentic", "Designer", "Vintage", "Classic", "Limited"),
        price_range=(40, 6000),
        attributes={
            "size": ("S", "M", "L", "EU 42", "US 10"),
            "material": ("leather", "steel", "18k gold", "cotton", "wool"),
        },
        suffixes=("Full Set", "with Papers", "Dust Bag Included"),
    ),
    "home": CategorySpec(
        brands=("KitchenAid", "Le Creuset", "Dyson", "Makita", "Weber", "Eames", "Bosch"),
        nouns={
            "kitchen": ("Stand Mixer", "Dutch Oven", "Espresso Machine"),
            "garden": ("Gas Grill", "Cordless Mower", "Teak Bench"),
            "tools": ("Cordless Drill Set", "Mitre Saw", "Socket Set"),
            "decor": ("Lounge Chair", "Floor Lamp", "Wool Rug"),
        },
        adjectives=("Barely Used", "Heavy-Duty", "Classic", "Compact", "Premium"),
        price_range=(20, 1500),
        attributes={
            "color": ("red", "cream", "graphite", "green"),
            "power": ("corded", "cordless", "manual"),
        },
        suffixes=("5.5 qt", "18V", "Set of 4"),
    ),
    "music": CategorySpec(
        brands=("Fender", "Gibson", "Yamaha", "Roland", "Moog", "Blue Note", "Shure"),
        nouns={
            "instruments": ("Stratocaster", "Les Paul", "Digital Piano", "Tenor Saxophone"),
            "vinyl": ("Original Pressing LP", "Jazz LP Lot", "Box Set"),
            "equipment": ("Tube Amplifier", "Analog Synthesizer", "Dynamic Microphone"),
        },
        adjectives=("Vintage", "Player-Grade", "Mint", "Gigged", "Collector"),
        price_range=(20, 3500),
        attributes={
            "year": ("1965", "1978", "1994", "2012", "2021"),
            "finish": ("sunburst", "black", "natural", "red"),
        },
        suffixes=("with Hard Case", "Made in USA", "Mono Pressing"),
    ),
    "sports": CategorySpec(
        brands=("Trek", "Specialized", "Titleist", "Callaway", "Peloton", "Patagonia", "Garmin"),
        nouns={
            "cycling": ("Carbon Road Bike", "Gravel Bike", "Power Meter"),
            "golf": ("Driver", "Iron Set", "Putter"),
            "fitness": ("Adjustable Dumbbells", "Rowing Machine", "Smart Bike"),
            "outdoor": ("Down Jacket", "Two-Person Tent", "GPS Watch"),
        },
        adjectives=("Lightweight", "Pro", "Tuned", "Barely Used", "Competition"),
        price_range=(30, 3500),
        attributes={
            "size": ("54cm", "56cm", "M", "L", "Regular"),
            "weight": ("7.2 kg", "8.4 kg", "1.1 kg", "420 g"),
        },
        suffixes=("2022", "Size M", "Shimano 105"),
    ),
    "vehicles": CategorySpec(
        brands=("Porsche", "Honda", "BMW", "Ducati", "Triumph", "Volkswagen", "Mazda"),
        nouns={
            "cars": ("911 Carrera", "MX-5 Roadster", "Golf GTI", "E30 Coupe"),
            "motorcycles": ("Café Racer", "Monster 821", "Bonneville T120"),
            "parts": ("Alloy Wheel Set", "Performance Exhaust", "Headlight Assembly"),
        },
        adjectives=("Low-Mileage", "Restored", "Original", "Garage-Kept", "Project"),
        price_range=(150, 45000),
        attributes={
            "mileage_km": ("12000", "48000", "96000", "150000"),
            "fuel": ("petrol", "diesel", "electric"),
        },
        suffixes=("Full Service History", "One Owner", "Matching Numbers"),
    ),
}

CONDITION_SENTENCES: dict[str, str] = {
    "NEW": "It is brand new and unused, still in its original packaging.",
    "LIKE_NEW": "It has been used only a handful of times and shows no visible wear.",
    "USED": "It has been used and shows honest signs of wear consistent with its age.",
    "REFURBISHED": "It has been professionally refurbished and tested to work as new.",
    "FOR_PARTS": "It is sold for parts or repair; please read the notes carefully.",
}

DESCRIPTION_CLOSERS: tuple[str, ...] = (
    "Ships within two business days, carefully packed and fully insured.",
    "Local pickup is welcome; otherwise tracked shipping is included in the price.",
    "Please ask any questions before bidding; all sales are final.",
    "Comes from a smoke-free home and a careful collector.",
    "Additional photos are available on request.",
)

FIRST_NAMES: tuple[str, ...] = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Mia",
    "James",
    "Isabella",
    "Lucas",
    "Charlotte",
    "Mateo",
    "Ava",
    "Hiro",
    "Priya",
    "Kwame",
    "Chloe",
    "Ivan",
    "Fatima",
    "Diego",
    "Ingrid",
    "Yusuf",
    "Mei",
    "Tomasz",
    "Aisha",
    "Lars",
    "Nora",
    "Rafael",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith",
    "Garcia",
    "Nguyen",
    "Müller",
    "Rossi",
    "Kowalski",
    "Tanaka",
    "Okafor",
    "Dubois",
    "Johansson",
    "Patel",
    "Silva",
    "O'Brien",
    "Kim",
    "Novak",
    "Haddad",
    "Jensen",
    "Moreau",
    "Fischer",
    "Costa",
    "Walker",
    "Brennan",
    "Ito",
    "Mensah",
    "Larsen",
)

SHOP_WORDS: tuple[str, ...] = (
    "vintage",
    "finds",
    "attic",
    "curios",
    "gear",
    "trading",
    "collects",
    "emporium",
    "depot",
    "vault",
    "loft",
    "workshop",
)

CITIES: tuple[tuple[str, str, str], ...] = (
    ("Portland", "OR", "US"),
    ("Austin", "TX", "US"),
    ("Chicago", "IL", "US"),
    ("Boston", "MA", "US"),
    ("London", "", "GB"),
    ("Manchester", "", "GB"),
    ("Berlin", "", "DE"),
    ("Lyon", "", "FR"),
)

STREETS: tuple[str, ...] = ("Maple Ave", "High Street", "Oak Lane", "Elm Street", "Market Square")
