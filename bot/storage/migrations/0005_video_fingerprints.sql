-- Perceptual fingerprints of submitted selfie videos (dHash of 8 frames), so a re-encoded or re-muxed
-- copy of an earlier submission is recognised although its sha256 differs. Encrypted: derived from a
-- face video. Kept for the retention period of raw media and then pruned.
CREATE TABLE video_fingerprints (
    id              INTEGER PRIMARY KEY,
    fingerprint_enc TEXT NOT NULL,
    first_seen_at   TEXT NOT NULL
);
CREATE INDEX video_fingerprints_seen ON video_fingerprints (first_seen_at);
