-- Stored positions name the Kafka log they belong to. A topic deleted and created again, or a Kafka cluster
-- replaced while the database is kept (a wiped volume, a move to new brokers), starts its offsets again at 0; a
-- position kept by topic name alone made the sink drop every new record below it as a replay, silently. With the
-- cluster id and the topic id in the key, the sink sees positions of another log as a reset (logged, counted in
-- benchpipe_sink_kafka_resets_total) and reads the new log from its start.
--
-- Rows stored before this migration get '' for both ids; the first sink that reads such a row adopts it for the
-- cluster and topic it consumes, unless the position is past the end of that log (then it is a reset too). A
-- cluster replaced before this upgrade whose log already reaches past the old position cannot be told apart.
-- next_offset -2 means "the start of the log" (nothing written from it yet).
ALTER TABLE benchpipe.sink_offsets
    ADD COLUMN cluster_id text NOT NULL DEFAULT '',
    ADD COLUMN topic_id   text NOT NULL DEFAULT '';

ALTER TABLE benchpipe.sink_offsets DROP CONSTRAINT sink_offsets_pkey;
ALTER TABLE benchpipe.sink_offsets ADD PRIMARY KEY (consumer_group, topic, partition, cluster_id, topic_id);
