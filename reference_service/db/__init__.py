"""Database access: table definitions built per prefix, the engine, migrations."""
