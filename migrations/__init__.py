"""The database schema's Alembic migrations, shipped in the wheel for `lendgate db upgrade`."""
