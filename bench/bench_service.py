"""Customer Module benchmark at 1,000,000 customers (`make bench-service`).

One run:
  1. starts its own embedded PostgreSQL in a temp dir (or uses DATABASE_URL), migrates, and seeds
     BENCH_ROWS (default 1,000,000) customers with PostgreSQL-side generation, then ANALYZE;
  2. times free-text `q` search (rare term, common term, "First Last") through
     (a) `service.list_customers({"q": ...}, {"take": 50})` — our pg_trgm GIN expression index —
     and (b) the reference predicate (per token, an OR of `column ILIKE '%tok%'` over the five
     searchable columns; take 50, order by id) with the trigram index unusable;
  3. times single `create_customers({...})` calls;
  4. times bulk `create_customers([...])` calls of 10,000 customers;
and prints a results table, also written to bench/results/bench_service.json.

Environment: DATABASE_URL (use that server; its customer tables are emptied — refused unless
BENCH_RESET=1 when they hold rows), BENCH_ROWS, BENCH_Q_REPS, BENCH_CREATE_REPS.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from stats import summary  # noqa: E402

from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from customer_service.filters import escape_like  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from customer_service.models import CUSTOMER_SEARCH_COLUMNS, search_document_sql  # noqa: E402
from devstack import ephemeral  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
BATCH = 100_000
TAKE = 50
Q_WARMUP = 10
Q_REPS = int(os.environ.get("BENCH_Q_REPS", "100"))
REF_MAX_REPS = 50
REF_MIN_REPS = 15
REF_BUDGET_S = 30.0  # per reference case: fewer repetitions when one takes long
MIXED_ROUNDS = 30
CREATE_WARMUP = 50
CREATE_REPS = int(os.environ.get("BENCH_CREATE_REPS", "500"))
BULK_SIZE = 10_000
BULK_CALLS = 3
TRGM_INDEX = "IDX_customer_search_trgm"
RESULTS = ROOT / "bench" / "results" / "bench_service.json"
TARGET_Q_P50_MS = 10.0
TARGET_SPEEDUP = 20.0
TARGET_CREATE_P50_MS = 3.0
TARGET_KINDS = ("rare", "common", "first last")  # the others are extra cases, without a target

# --- word lists (picked with a skew: the first entries are common, the last ones rare) --------


def words(text: str) -> list[str]:
    return text.split()


FIRST_NAMES = words(
    """James Mary Michael Patricia John Jennifer Robert Linda David Elizabeth William
Barbara Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy
Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna
Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald
Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy Jacob Amy Gary Kathleen Nicholas
Angela Eric Shirley Jonathan Emma Stephen Brenda Larry Pamela Justin Nicole Scott Samantha Brandon
Katherine Benjamin Christine Samuel Debra Gregory Rachel Alexander Carolyn Patrick Janet Frank
Maria Raymond Olivia Jack Heather Dennis Helen Jerry Catherine Tyler Diane Aaron Julie Jose
Victoria Adam Joyce Nathan Lauren Henry Kelly Zachary Christina Douglas Ruth Peter Joan Kyle
Virginia Noah Judith Ethan Evelyn Jeremy Hannah Walter Andrea Christian Megan Keith Cheryl Roger
Jacqueline Terry Madison Austin Teresa Sean Abigail Gerald Sophia Carl Martha Harold Sara Dylan
Gloria Arthur Janice Lawrence Kathryn Jordan Ann Jesse Isabella Bryan Judy Billy Charlotte Bruce
Julia Gabriel Grace Joe Amber Logan Alice Alan Jean Juan Denise Albert Frances Willie Danielle
Elijah Marilyn Wayne Natalie Randy Beverly Vincent Diana Mason Brittany Roy Theresa Ralph Kayla
Bobby Alexis Russell Doris Bradley Lori Philip Tiffany Eugene Ingrid Leopold Ottoline Cosimo
Thaddeus Perpetua Evander Wilhelmina Lysander Philippa"""
)

LAST_NAMES = words(
    """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson
White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres
Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez
Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook
Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward
Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez
Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell
Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander
Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis
Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald
Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson
Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer
Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels
Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins
Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong
Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews
Pena Richards Contreras Willis Carpenter Lawrence Sandoval Kowalczyk Abernathy Fairweather
Quintanilla Oyelaran Villeneuve Halvorsen"""
)

COMPANY_ADJECTIVES = words(
    """Global United Pacific Atlantic Northern Southern Eastern Western Central
Premier Summit Pioneer Liberty Golden Silver Blue Green Red Bright Rapid Prime Apex Nova Vertex
Evergreen Horizon Coastal Mountain River Lakeside Urban Metro Royal Sterling Crystal Alpine
Cedar Oak Maple Granite"""
)
COMPANY_NOUNS = words(
    """Solutions Systems Logistics Foods Trading Partners Dynamics Labs Industries
Ventures Holdings Networks Designs Studios Consulting Media Health Energy Motors Builders Supply
Outfitters Analytics Textiles Pharma Robotics Freight Bakery Brewing Hardware"""
)
COMPANY_SUFFIXES = ["Inc", "LLC", "Ltd", "GmbH", "Co", "Group", "Corp", "SA"]
# Each appears in ~1 row in 100,000: the "rare term" population.
RARE_WORDS = words(
    """Quokkaflux Zephyrine Brambleworth Xylocraft Murmurant Plinthwick Gossamerix
Tessellon Quibbleton Vorpaline"""
)
EMAIL_DOMAINS = words(
    """gmail.com yahoo.com outlook.com hotmail.com icloud.com proton.me aol.com
gmx.de web.de mail.ru yandex.ru orange.fr free.fr libero.it comcast.net example.org acme.io
fastmail.com zoho.com hey.com"""
)

# Deterministic pseudo-random numbers in [0, 1) from the row number and a stream number.
U = "((abs(hashint8extended(i, {k})) %% 1000000007)::float8 / 1000000007.0)"


def pick(array: str, stream: int, skew: float) -> str:
    """An element of `array`, skewed toward its first entries (skew > 1)."""
    return (
        f"({array})[1 + floor(array_length({array}, 1) * power({U.format(k=stream)}, {skew}))::int]"
    )


SEED_SQL = f"""
WITH g AS (
    SELECT i,
           {pick("%(fn)s::text[]", 1, 2.2)} AS fn,
           {pick("%(ln)s::text[]", 2, 1.8)} AS ln,
           {U.format(k=3)} AS u_company,
           {pick("%(adj)s::text[]", 4, 1.3)} AS adj,
           {pick("%(noun)s::text[]", 5, 1.3)} AS noun,
           {pick("%(suf)s::text[]", 6, 1.6)} AS suf,
           {pick("%(rare)s::text[]", 7, 1.0)} AS rare,
           {pick("%(dom)s::text[]", 8, 3.0)} AS dom,
           {U.format(k=9)} AS u_email,
           {U.format(k=10)} AS u_phone,
           {U.format(k=11)} AS u_flags,
           abs(hashint8extended(i, 12)) AS h
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
)
INSERT INTO customer (id, company_name, first_name, last_name, email, phone, has_account,
                      auth_identity_id, created_at, updated_at, deleted_at)
SELECT
    -- ULID-shaped ids, increasing with i (like real ones, minted in creation order)
    'cus_01J' || lpad(upper(to_hex(i)), 7, '0') || upper(substr(md5(i::text), 1, 16)),
    CASE
        WHEN h %% 10000 = 0 THEN rare || ' ' || noun || ' ' || suf
        WHEN u_company < 0.35 THEN adj || ' ' || noun || ' ' || suf
    END,
    fn,
    ln,
    CASE
        WHEN u_email < 0.55 THEN lower(fn) || '.' || lower(ln) || i::text
        WHEN u_email < 0.80 THEN lower(left(fn, 1)) || lower(ln) || i::text
        WHEN u_email < 0.95 THEN lower(fn) || '_' || i::text
        ELSE 'info+' || i::text
    END || '@' || dom,
    CASE
        WHEN u_phone < 0.15 THEN NULL
        WHEN u_phone < 0.60 THEN '+1' || lpad((h %% 10000000000)::text, 10, '0')
        WHEN u_phone < 0.80 THEN '+44 7' || lpad((h %% 1000000000)::text, 9, '0')
        ELSE '+49 15' || lpad((h %% 100000000)::text, 8, '0')
    END,
    u_flags < 0.4,
    CASE WHEN u_flags < 0.4 THEN 'authid_' || i::text END,
    ts, ts,
    CASE WHEN u_flags > 0.99 THEN ts + interval '30 days' END
FROM g, LATERAL (
    SELECT timestamptz '2023-01-01' + (i * interval '60 seconds') AS ts
) t
"""
# Rare rows: h %% 10000 = 0, about 100 in 1M, spread over the ten RARE_WORDS (~10 rows each).


# --- helpers ------------------------------------------------------------------------------


async def timed(fn: Callable[[], Awaitable[Any]], warmup: int, reps: int) -> list[float]:
    for _ in range(warmup):
        await fn()
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - start)
    return out


def log(message: str) -> None:
    print(message, flush=True)


def plan_nodes(plan: dict[str, Any]) -> list[str]:
    """Node names of an EXPLAIN (FORMAT JSON) plan, depth first; index scans name the index."""
    name = plan["Node Type"]
    if "Index Name" in plan:
        name += f"[{plan['Index Name']}]"
    out = [name]
    for child in plan.get("Plans", []):
        out.extend(plan_nodes(child))
    return out


def libpq_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


# --- database ------------------------------------------------------------------------------


def prepare_database(url: str) -> dict[str, Any]:
    """Migrate, then seed ROWS customers (secondary indexes dropped during the load and rebuilt
    from their own definitions), then VACUUM ANALYZE. Returns seeding timings."""
    log("migrating ...")
    upgrade_to_head(url)
    timings: dict[str, Any] = {}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        existing = conn.execute("SELECT EXISTS (SELECT 1 FROM customer)").fetchone()
        reset = os.environ.get("BENCH_RESET") == "1"
        if existing and existing[0] and os.environ.get("DATABASE_URL") and not reset:
            raise SystemExit("DATABASE_URL's customer table holds rows: BENCH_RESET=1 empties it")
        conn.execute(
            "TRUNCATE customer_group_customer, customer_address, customer_group, customer, "
            "event_outbox, operation_log RESTART IDENTITY CASCADE"
        )
        indexes = conn.execute(
            """SELECT i.relname, pg_get_indexdef(x.indexrelid)
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               WHERE x.indrelid = 'customer'::regclass AND NOT x.indisprimary
               ORDER BY i.relname"""
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        log(f"seeding {ROWS:,} customers (secondary indexes dropped during the load) ...")
        start = time.perf_counter()
        params = {
            "fn": FIRST_NAMES,
            "ln": LAST_NAMES,
            "adj": COMPANY_ADJECTIVES,
            "noun": COMPANY_NOUNS,
            "suf": COMPANY_SUFFIXES,
            "rare": RARE_WORDS,
            "dom": EMAIL_DOMAINS,
        }
        done = 0
        while done < ROWS:
            hi = min(done + BATCH, ROWS)
            conn.execute(SEED_SQL, {**params, "lo": done + 1, "hi": hi})
            done = hi
            elapsed = time.perf_counter() - start
            log(f"  {done:>9,} / {ROWS:,} rows  {elapsed:6.1f}s  ({done / elapsed:,.0f} rows/s)")
        timings["insert_s"] = round(time.perf_counter() - start, 1)
        for name, definition in indexes:
            t0 = time.perf_counter()
            conn.execute(definition)
            log(f"  index {name} built in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) customer")
        log(f"  VACUUM ANALYZE in {time.perf_counter() - t0:.1f}s")
        timings["total_s"] = round(time.perf_counter() - start, 1)
        size = conn.execute(
            "SELECT pg_size_pretty(pg_table_size('customer')), "
            "pg_size_pretty(pg_relation_size(%s::regclass))",
            (f'"{TRGM_INDEX}"',),
        ).fetchone()
        timings["table_size"], timings["trgm_index_size"] = size if size else (None, None)
    log(
        f"seeded {ROWS:,} customers in {timings['total_s']}s "
        f"(insert {timings['insert_s']}s; table {timings['table_size']}, "
        f"trigram index {timings['trgm_index_size']})"
    )
    return timings


def pick_terms(url: str) -> list[tuple[str, str, int]]:
    """(kind, term, live matches): a rare term, a common term, a "First Last" pair."""
    document = search_document_sql(CUSTOMER_SEARCH_COLUMNS)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:

        def matches(term: str) -> int:
            where = " AND ".join(f"({document}) ILIKE %s" for _ in term.split())
            params = [f"%{escape_like(t)}%" for t in term.split()]
            row = conn.execute(
                f"SELECT count(*) FROM customer WHERE {where} AND deleted_at IS NULL", params
            ).fetchone()
            return int(row[0]) if row else 0

        # The rare word found in closest to 10 rows; the most common first name; a last name
        # from the tail (~0.2% of rows); a pair of mid-list names (each in ~0.5% of rows,
        # together in ~100); the most common pair (each in 5-10% of rows).
        counts = {w: matches(w) for w in RARE_WORDS}
        rare = min(RARE_WORDS, key=lambda w: (counts[w] == 0, abs(counts[w] - 10)))
        common = FIRST_NAMES[0]
        uncommon = LAST_NAMES[-5]
        pair = f"{FIRST_NAMES[40]} {LAST_NAMES[40]}"
        common_pair = f"{FIRST_NAMES[0]} {LAST_NAMES[0]}"
        return [
            ("rare", rare, counts[rare]),
            ("common", common, matches(common)),
            ("uncommon", uncommon, matches(uncommon)),
            ("first last", pair, matches(pair)),
            ("common pair", common_pair, matches(common_pair)),
        ]


# GIN indexes are only reachable through bitmap scans: turning those off makes the trigram index
# unusable and leaves every other plan (the reference's) available. Custom plans only, as the
# reference's driver sends each query unprepared (psycopg would switch to a generic plan).
REFERENCE_SETTINGS = (
    "SET LOCAL enable_bitmapscan = off;SET LOCAL plan_cache_mode = force_custom_plan"
)


def reference_sql(term: str) -> tuple[str, dict[str, str]]:
    """The reference system's query: per token, an OR of `column ILIKE '%tok%'`."""
    tokens = term.split()
    params = {f"t{i}": f"%{escape_like(tok)}%" for i, tok in enumerate(tokens)}
    where = " AND ".join(
        "(" + " OR ".join(f"{col} ILIKE %(t{i})s" for col in CUSTOMER_SEARCH_COLUMNS) + ")"
        for i in range(len(tokens))
    )
    sql = f"SELECT * FROM customer WHERE {where} AND deleted_at IS NULL ORDER BY id LIMIT {TAKE}"
    return sql, params


# --- the benchmark -------------------------------------------------------------------------


async def explain(engine: Any, statement: str, parameters: Any, settings: str = "") -> Any:
    async with engine.begin() as conn:
        for setting in filter(None, settings.split(";")):
            await conn.exec_driver_sql(setting)
        sql = "EXPLAIN (ANALYZE, FORMAT JSON) " + statement
        return (await conn.exec_driver_sql(sql, parameters)).scalar_one()[0]


PLACEHOLDER = re.compile(r"%\(([^)]*)\)s")


def sql_literal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "NULL"}[value]
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


async def service_plan(engine: Any, statement: str, parameters: dict[str, Any]) -> Any:
    """EXPLAIN ANALYZE of the plan the service's connection really runs for this statement.

    psycopg prepares a statement it has run 5 times; PostgreSQL then may switch it to a generic
    plan. So EXPLAIN EXECUTE that prepared statement (on the one pooled connection the service
    uses), reporting whether the plan was generic; unprepared, EXPLAIN the statement itself."""
    names = list(dict.fromkeys(PLACEHOLDER.findall(statement)))
    numbered = PLACEHOLDER.sub(lambda m: f"${names.index(m.group(1)) + 1}", statement)
    numbered = numbered.replace("%%", "%")
    query = "SELECT name, generic_plans FROM pg_prepared_statements WHERE statement = %(statement)s"
    async with engine.connect() as conn:
        found = (await conn.exec_driver_sql(query, {"statement": numbered})).first()
        if found is not None:
            args = ", ".join(sql_literal(parameters[n]) for n in names)
            sql = f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {found.name}({args})"
            plan = (await conn.exec_driver_sql(sql.replace("%", "%%"), {})).scalar_one()[0]
            after = (await conn.exec_driver_sql(query, {"statement": numbered})).first()
            generic = after is not None and after.generic_plans > found.generic_plans
            await conn.rollback()
            return plan, "prepared, generic plan" if generic else "prepared, custom plan"
    return await explain(engine, statement, parameters), "unprepared (custom plan)"


async def prepared_search_plans(engine: Any) -> list[dict[str, Any]]:
    """Generic / custom plan counts of the prepared search statements (psycopg prepares a query
    it has run 5 times; PostgreSQL may then switch it to a generic plan)."""
    async with engine.connect() as conn:
        rows = (
            await conn.exec_driver_sql(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE strpos(statement, 'ILIKE') > 0 AND strpos(statement, 'EXPLAIN') = 0"
            )
        ).all()
    return [
        {"statement": " ".join(r[0].split())[:120], "generic": r[1], "custom": r[2]} for r in rows
    ]


async def bench_search(
    engine: Any, service: CustomerModuleService, terms: list[tuple[str, str, int]]
) -> dict[str, Any]:
    results = []
    # Capture the SQL our service really sends, to EXPLAIN exactly that.
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM customer" in statement and "ILIKE" in statement:
            captured.append((statement, parameters))

    ours_calls = {}
    for kind, term, count in terms:
        log(f"q search: {kind} term {term!r} ({count:,} live matches)")

        async def ours(term: str = term, expect: int = min(TAKE, count)) -> Any:
            rows = await service.list_customers({"q": term}, {"take": TAKE})
            assert len(rows) == expect, (term, len(rows), expect)
            return rows

        ours_calls[kind] = ours
        a = await timed(ours, Q_WARMUP, Q_REPS)

        captured.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            await ours()
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        plan, plan_mode = await service_plan(engine, *captured[-1])
        a_nodes = plan_nodes(plan["Plan"])

        ref_sql, ref_params = reference_sql(term)

        async def reference(
            sql: str = ref_sql, params: dict[str, str] = ref_params, expect: int = min(TAKE, count)
        ) -> Any:
            async with engine.begin() as conn:
                for setting in REFERENCE_SETTINGS.split(";"):
                    await conn.exec_driver_sql(setting)
                rows = (await conn.exec_driver_sql(sql, params)).all()
                assert len(rows) == expect, (sql, params, len(rows), expect)
                return rows

        start = time.perf_counter()
        await reference()  # warm-up, and a measure of how many repetitions fit the budget
        first = time.perf_counter() - start
        reps = max(REF_MIN_REPS, min(REF_MAX_REPS, int(REF_BUDGET_S / max(first, 1e-6))))
        b = await timed(reference, 1, reps)
        ref_plan = await explain(engine, ref_sql, ref_params, REFERENCE_SETTINGS)
        b_nodes = plan_nodes(ref_plan["Plan"])

        sa, sb = summary(a, 3), summary(b, 3)
        row = {
            "kind": kind,
            "term": term,
            "matches": count,
            "ours": sa,
            "reference": sb,
            "speedup_p50": round(sb["p50_ms"] / sa["p50_ms"], 1),
            "ours_plan": a_nodes,
            "ours_plan_mode": plan_mode,
            "reference_plan": b_nodes,
            "ours_uses_trgm_index": any(TRGM_INDEX in n for n in a_nodes),
            "reference_uses_trgm_index": any(TRGM_INDEX in n for n in b_nodes),
            "ours_server_exec_ms": round(plan["Execution Time"], 3),
            "reference_server_exec_ms": round(ref_plan["Execution Time"], 3),
        }
        log(
            f"  (a) ours      p50 {sa['p50_ms']:8.2f} ms  p95 {sa['p95_ms']:8.2f} ms  "
            f"(server {row['ours_server_exec_ms']:.2f} ms)  plan ({plan_mode}): "
            f"{' > '.join(a_nodes)}"
        )
        log(
            f"  (b) reference p50 {sb['p50_ms']:8.2f} ms  p95 {sb['p95_ms']:8.2f} ms  "
            f"(n={sb['n']}, server {row['reference_server_exec_ms']:.2f} ms)  "
            f"plan: {' > '.join(b_nodes)}"
        )
        if row["reference_uses_trgm_index"]:
            raise SystemExit("reference query used the trigram index: the comparison is invalid")
        results.append(row)

    # A mixed workload: the terms interleaved, as a live admin search sees them. With psycopg's
    # prepared statements this is where a generic plan, if PostgreSQL picked one, would show.
    log(f"q search, mixed: {MIXED_ROUNDS} rounds of all terms interleaved")
    mixed: dict[str, list[float]] = {kind: [] for kind in ours_calls}
    for _ in range(MIXED_ROUNDS):
        for kind, call in ours_calls.items():
            t0 = time.perf_counter()
            await call()
            mixed[kind].append(time.perf_counter() - t0)
    for row in results:
        row["ours_mixed"] = summary(mixed[row["kind"]], 3)
        log(
            f"  {row['kind']:<10} p50 {row['ours_mixed']['p50_ms']:8.2f} ms  "
            f"p95 {row['ours_mixed']['p95_ms']:8.2f} ms"
        )
    prepared = await prepared_search_plans(engine)
    for p in prepared:
        log(f"  prepared: {p['generic']} generic / {p['custom']} custom plans: {p['statement']}")
    return {"terms": results, "prepared_statements": prepared}


async def bench_single_create(service: CustomerModuleService) -> dict[str, Any]:
    counter = iter(range(10**9))

    def payload() -> dict[str, Any]:
        n = next(counter)
        return {
            "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
            "last_name": LAST_NAMES[n % len(LAST_NAMES)],
            "email": f"bench.single.{n}@example.com",
            "phone": f"+1555{n:07d}",
            "company_name": f"{COMPANY_ADJECTIVES[n % len(COMPANY_ADJECTIVES)]} Bench LLC",
        }

    async def one() -> Any:
        return await service.create_customers(payload())

    log(f"single create: {CREATE_WARMUP} warm-up + {CREATE_REPS} timed sequential calls")
    samples = await timed(one, CREATE_WARMUP, CREATE_REPS)
    s = summary(samples, 3)
    log(f"  p50 {s['p50_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms")
    return s


async def bench_bulk_create(service: CustomerModuleService) -> dict[str, Any]:
    def batch(call: int, size: int) -> list[dict[str, Any]]:
        return [
            {
                "first_name": FIRST_NAMES[(call * 7 + n) % len(FIRST_NAMES)],
                "last_name": LAST_NAMES[(call * 3 + n) % len(LAST_NAMES)],
                "email": f"bench.bulk.{call}.{n}@example.com",
                "phone": f"+4477{n:08d}",
                "company_name": None if n % 3 else f"Bulk {n % 97} Trading Ltd",
            }
            for n in range(size)
        ]

    await service.create_customers(batch(999, 100))  # warm-up
    log(f"bulk create: {BULK_CALLS} calls of {BULK_SIZE:,} customers")
    seconds = []
    for call in range(BULK_CALLS):
        rows = batch(call, BULK_SIZE)
        start = time.perf_counter()
        created = await service.create_customers(rows)
        seconds.append(time.perf_counter() - start)
        assert len(created) == BULK_SIZE
        log(f"  call {call + 1}: {seconds[-1]:.2f}s  ({BULK_SIZE / seconds[-1]:,.0f} rows/s)")
    return {
        "rows_per_call": BULK_SIZE,
        "calls_s": [round(s, 3) for s in seconds],
        "rows_per_s_median": round(BULK_SIZE / statistics.median(seconds)),
        "rows_per_s_overall": round(BULK_SIZE * len(seconds) / sum(seconds)),
    }


async def run_benchmarks(url: str) -> dict[str, Any]:
    terms = pick_terms(url)
    # One pooled connection (the calls are sequential): every statement, and its prepared plan
    # statistics, live on it.
    engine = create_engine(url, pool_size=1)
    try:
        service = CustomerModuleService(session_factory(engine))
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        search = await bench_search(engine, service, terms)
        single = await bench_single_create(service)
        bulk = await bench_bulk_create(service)
        async with engine.connect() as conn:
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
    finally:
        await engine.dispose()
    return {"search": search, "single_create": single, "bulk_create": bulk, "server": version}


def report(results: dict[str, Any]) -> str:
    lines = []
    width = 96
    lines.append("=" * width)
    lines.append(
        f"Customer Module benchmark — {results['rows']:,} customers, PostgreSQL "
        f"{results['server']}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    lines.append(
        f"seeding {results['seed']['total_s']}s (insert {results['seed']['insert_s']}s); "
        f"bench wall time {results['wall_s']}s"
    )
    lines.append("-" * width)
    lines.append(
        f"{'q search (take 50)':<27}{'matches':>8}{'(a) p50':>9}{'(a) p95':>9}{'mixed':>9}"
        f"{'(b) p50':>10}{'(b) p95':>10}{'(b)/(a)':>8}  trgm a/b"
    )
    for r in results["search"]["terms"]:
        label = f"{r['kind']}: {r['term']}"
        lines.append(
            f"{label:<27}{r['matches']:>8,}{r['ours']['p50_ms']:>7.2f}ms{r['ours']['p95_ms']:>7.2f}ms"
            f"{r['ours_mixed']['p50_ms']:>7.2f}ms"
            f"{r['reference']['p50_ms']:>8.1f}ms{r['reference']['p95_ms']:>8.1f}ms"
            f"{r['speedup_p50']:>7.1f}x  {'yes' if r['ours_uses_trgm_index'] else 'no'}/"
            f"{'yes' if r['reference_uses_trgm_index'] else 'no'}"
        )
    lines.append(
        "  (a) service.list_customers({'q': term}, {'take': 50}), in-process; mixed = p50 with"
        " all terms interleaved"
    )
    lines.append("  (b) per-token OR of column ILIKE '%tok%' over 5 columns, no trigram index")
    lines.append(f"  targets apply to: {', '.join(TARGET_KINDS)}; the other rows are extra cases")
    for p in results["search"]["prepared_statements"]:
        lines.append(
            f"  prepared search statement: {p['generic']} generic / {p['custom']} custom plans"
        )
    for r in results["search"]["terms"]:
        lines.append(
            f"  plan {r['kind']:<11} (a) {' > '.join(r['ours_plan'])}  [{r['ours_plan_mode']}]"
        )
        lines.append(f"  {'':<16} (b) {' > '.join(r['reference_plan'])}")
    lines.append("-" * width)
    s = results["single_create"]
    lines.append(
        f"single create_customers({{...}}): p50 {s['p50_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms  "
        f"mean {s['mean_ms']:.2f} ms  (n={s['n']})"
    )
    b = results["bulk_create"]
    lines.append(
        f"bulk create_customers([10,000]): {b['rows_per_s_median']:,} rows/s median "
        f"(calls: {', '.join(f'{x:.2f}s' for x in b['calls_s'])})"
    )
    lines.append("-" * width)
    for name, t in results["targets"].items():
        lines.append(f"target {name:<44} {t['value']:>10}  {'MET' if t['met'] else 'MISSED'}")
    lines.append("=" * width)
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in results["search"]["terms"]:
        if r["kind"] not in TARGET_KINDS:
            continue
        p50 = r["ours"]["p50_ms"]
        out[f"q p50 <= {TARGET_Q_P50_MS:g} ms ({r['kind']})"] = {
            "value": f"{p50:.2f} ms",
            "met": p50 <= TARGET_Q_P50_MS,
        }
        out[f"q speedup >= {TARGET_SPEEDUP:g}x ({r['kind']})"] = {
            "value": f"{r['speedup_p50']:.1f}x",
            "met": r["speedup_p50"] >= TARGET_SPEEDUP,
        }
    p50 = results["single_create"]["p50_ms"]
    out[f"single create p50 <= {TARGET_CREATE_P50_MS:g} ms"] = {
        "value": f"{p50:.2f} ms",
        "met": p50 <= TARGET_CREATE_P50_MS,
    }
    return out


def main() -> None:
    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the server below is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wall = time.perf_counter()
    if os.environ.get("DATABASE_URL"):
        log("using DATABASE_URL")
    else:
        log("starting embedded PostgreSQL ...")
    with ephemeral.database_url() as url:
        seed = prepare_database(url)
        results: dict[str, Any] = {"rows": ROWS, "seed": seed}
        results.update(asyncio.run(run_benchmarks(url)))
    results["wall_s"] = round(time.perf_counter() - wall, 1)
    results["targets"] = targets(results)
    table = report(results)
    print("\n" + table, flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results["table"] = table.splitlines()
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
