-- Uploaded images. The file is named by the SHA-256 of its bytes, so the same image
-- uploaded twice is stored once.
CREATE TABLE uploads (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name    text NOT NULL CHECK (file_name ~ '^[0-9a-f]{64}\.(png|jpg|gif|webp)$'),
    content_type text NOT NULL,
    bytes        integer NOT NULL CHECK (bytes > 0),
    uploader_id  bigint NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_created_idx ON uploads (created_at DESC);
