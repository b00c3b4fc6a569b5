-- The server secret (the key of the device and network hashes) is created with the schema instead
-- of by the first start of the application: a new leader's first backup then always carries it, and
-- a standby that restores that backup never has to write it (a standby cannot write). SQLite's
-- randomblob() draws from its ChaCha20 generator, seeded from the operating system's randomness.
-- A secret that already exists is kept.
INSERT OR IGNORE INTO app_settings (key, value) VALUES ('server_secret', randomblob(32));
