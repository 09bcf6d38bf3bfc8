"""The bus port and its implementations: embedded (SQLite) and Apache Kafka."""
