"""Print, for each table of the lake at argv[1], its columns and types as DuckDB reads them
(one glob per table, Hive partitioning), and its row count."""
import sys

import duckdb

lake = sys.argv[1]
tables = {
    "plays": f"{lake}/plays/**/*.parquet",
    "purchases": f"{lake}/purchases/**/*.parquet",
    "quarantine": f"{lake}/quarantine/**/*.parquet",
    "partners": f"{lake}/master/partners.parquet",
    "keychips": f"{lake}/master/keychips.parquet",
    "charges": f"{lake}/master/charges.parquet",
    "products": f"{lake}/master/products.parquet",
    "rates": f"{lake}/master/rates.parquet",
}
db = duckdb.connect()
for table, glob in tables.items():
    source = f"read_parquet('{glob}', hive_partitioning=true)"
    columns = db.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    count = db.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
    print(f"{table} {count} " + " ".join(f"{name}:{kind}" for name, kind, *_ in columns))
