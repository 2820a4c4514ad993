"""Sync into a SQL database: the tables, their migrations, and loading a unit's export
files into them with upserts (PostgreSQL, MariaDB/MySQL and SQLite tested; SQL Server
through SQLAlchemy's mssql+pyodbc, untested)."""
