-- Quire's events on message brokers (issue 30; README "Events"): the events webhooks get
-- (`webhook_events`, recorded by triggers in the change's own transaction), published to
-- RabbitMQ and NATS JetStream as well. Expand-only: a release before this one ignores both
-- tables, and the function below keeps the arguments and effect its triggers rely on.

-- Each event's message, written by the `webhooks.fanout` job in the transaction that takes
-- the event from `webhook_events`, when a broker is configured; the `events.amqp` and
-- `events.nats` jobs publish the rows oldest first and stamp each once its broker has
-- confirmed it. Rows every configured broker confirmed go after a week (`events.prune`).
CREATE TABLE broker_events (
    -- The `webhook_events` row's id. Fan-outs take one after the other (an advisory lock), and
    -- one post's changes commit in the order of their ids (each waits for the last one's row
    -- lock), so sending in id order keeps each post's events in order.
    id         bigint PRIMARY KEY,
    event      text NOT NULL,
    -- `quire-evt-<uuid>`: the same on every attempt, so consumers can drop repeats, and
    -- unique across sites and databases (ids start again in each; NATS drops a message whose
    -- id it has seen within its window).
    message_id text NOT NULL,
    -- The message body: {"id": message_id, "event", "created_at", "data"}, as webhooks get it.
    payload    jsonb NOT NULL,
    -- When the event happened (its `webhook_events` row's time): waits count from it.
    created_at timestamptz NOT NULL,
    -- When each broker confirmed it (NULL: not yet).
    amqp_at    timestamptz,
    nats_at    timestamptz
);
-- What each broker's job reads: its unsent rows, in order.
CREATE INDEX broker_events_amqp_waiting_idx ON broker_events (id) WHERE amqp_at IS NULL;
CREATE INDEX broker_events_nats_waiting_idx ON broker_events (id) WHERE nats_at IS NULL;

-- Which brokers the job workers publish to, as they said last (`events::announce`, when they
-- start and every minute, for the hour ahead): while one is listed, every event is recorded,
-- whether or not a webhook listens for it. A broker taken out of the settings drops out by
-- itself within the hour; a site with neither records what its webhooks want, as before.
CREATE TABLE event_brokers (
    broker text PRIMARY KEY CHECK (broker IN ('amqp', 'nats')),
    until  timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION webhook_event(event_name text, subject bigint) RETURNS void AS $$
BEGIN
    IF current_setting('quire.origin', true) IS DISTINCT FROM 'import'
       AND (EXISTS (SELECT 1 FROM webhooks WHERE active AND event_name = ANY (events))
            OR EXISTS (SELECT 1 FROM event_brokers WHERE until > now())) THEN
        INSERT INTO webhook_events (event, subject_id) VALUES (event_name, subject);
        PERFORM jobs_queue_once('webhooks.fanout');
    END IF;
END;
$$ LANGUAGE plpgsql;
