-- Presigned direct uploads to S3 (POST /api/uploads/presign, then /api/uploads/confirm): the
-- key a client was given to PUT its file to (`incoming/<uuid>`, never served), who asked, the
-- size they declared and until when the address works. Only the same account may confirm it;
-- confirming reads the object through media::receive (the one door), then deletes the object
-- and the row. The media.purge_incoming chore removes what was never confirmed.
CREATE TABLE upload_intents (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_key     text NOT NULL UNIQUE CHECK (object_key LIKE 'incoming/%'),
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name      text NOT NULL DEFAULT '' CHECK (length(file_name) <= 255),
    content_type   text NOT NULL,
    declared_bytes bigint NOT NULL CHECK (declared_bytes > 0),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_intents_expires_idx ON upload_intents (expires_at);
