"""SQLite storage: connection and migrations, repositories, FSM storage, encryption, media files."""
