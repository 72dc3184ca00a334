"""category taxonomy

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A literal copy of domain/categories.py at this revision: migrations must not change
# meaning when the code moves on. Later taxonomy changes are new migrations.
CATEGORIES = [
        ('antiques', None, 'Antiques'),
        ('antiques/furniture', 'antiques', 'Furniture'),
        ('antiques/silver', 'antiques', 'Silver'),
        ('antiques/clocks', 'antiques', 'Clocks'),
        ('antiques/maps', 'antiques', 'Maps'),
        ('art', None, 'Art'),
        ('art/paintings', 'art', 'Paintings'),
        ('art/prints', 'art', 'Prints'),
        ('art/sculpture', 'art', 'Sculpture'),
        ('art/photography', 'art', 'Photography'),
        ('books', None, 'Books'),
        ('books/rare', 'books', 'Rare'),
        ('books/comics', 'books', 'Comics'),
        ('books/textbooks', 'books', 'Textbooks'),
        ('cameras', None, 'Cameras'),
        ('cameras/digital', 'cameras', 'Digital'),
        ('cameras/film', 'cameras', 'Film'),
        ('cameras/lenses', 'cameras', 'Lenses'),
        ('cameras/drones', 'cameras', 'Drones'),
        ('coins', None, 'Coins'),
        ('coins/us', 'coins', 'Us'),
        ('coins/world', 'coins', 'World'),
        ('coins/bullion', 'coins', 'Bullion'),
        ('collectibles', None, 'Collectibles'),
        ('collectibles/trading-cards', 'collectibles', 'Trading Cards'),
        ('collectibles/stamps', 'collectibles', 'Stamps'),
        ('collectibles/toys', 'collectibles', 'Toys'),
        ('collectibles/memorabilia', 'collectibles', 'Memorabilia'),
        ('computers', None, 'Computers'),
        ('computers/laptops', 'computers', 'Laptops'),
        ('computers/desktops', 'computers', 'Desktops'),
        ('computers/components', 'computers', 'Components'),
        ('computers/vintage', 'computers', 'Vintage'),
        ('electronics', None, 'Electronics'),
        ('electronics/phones', 'electronics', 'Phones'),
        ('electronics/audio', 'electronics', 'Audio'),
        ('electronics/tv-video', 'electronics', 'Tv Video'),
        ('electronics/gaming', 'electronics', 'Gaming'),
        ('fashion', None, 'Fashion'),
        ('fashion/watches', 'fashion', 'Watches'),
        ('fashion/jewelry', 'fashion', 'Jewelry'),
        ('fashion/bags', 'fashion', 'Bags'),
        ('fashion/shoes', 'fashion', 'Shoes'),
        ('fashion/clothing', 'fashion', 'Clothing'),
        ('home', None, 'Home'),
        ('home/kitchen', 'home', 'Kitchen'),
        ('home/garden', 'home', 'Garden'),
        ('home/tools', 'home', 'Tools'),
        ('home/decor', 'home', 'Decor'),
        ('music', None, 'Music'),
        ('music/instruments', 'music', 'Instruments'),
        ('music/vinyl', 'music', 'Vinyl'),
        ('music/equipment', 'music', 'Equipment'),
        ('sports', None, 'Sports'),
        ('sports/cycling', 'sports', 'Cycling'),
        ('sports/golf', 'sports', 'Golf'),
        ('sports/fitness', 'sports', 'Fitness'),
        ('sports/outdoor', 'sports', 'Outdoor'),
        ('vehicles', None, 'Vehicles'),
        ('vehicles/cars', 'vehicles', 'Cars'),
        ('vehicles/motorcycles', 'vehicles', 'Motorcycles'),
        ('vehicles/parts', 'vehicles', 'Parts'),
]


def upgrade() -> None:
    table = sa.table(
        "categories", sa.column("slug", sa.String), sa.column("parent_slug", sa.String),
        sa.column("name", sa.String),
    )
    op.bulk_insert(table, [dict(slug=s, parent_slug=p, name=n) for s, p, n in CATEGORIES])


def downgrade() -> None:
    op.execute("DELETE FROM categories")
