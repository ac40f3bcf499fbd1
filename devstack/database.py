"""Which PostgreSQL the application uses: DATABASE_URL, else the embedded server (started here)."""

from __future__ import annotations

from devstack.postgres import EmbeddedPostgres
from settings import Settings, get_settings


def embedded_postgres(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / "postgres", settings.embedded_postgres_port)


def resolve_database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return settings.require_database_url()
    server = embedded_postgres(settings)
    server.start()
    return server.url


if __name__ == "__main__":
    from customer_service.migrate import upgrade_to_head

    url = resolve_database_url()
    upgrade_to_head(url)
    print(f"migrated to head: {url}")
