// Package publish is how a producer hands its records to Kafka without ever losing one: every record is first
// written to a durable on-disk spool (a bbolt file in producer.spool_dir, fsync'd before Publish returns), and a
// background shipper sends the spool to Kafka in order and deletes each record only after Kafka acknowledged it.
// Publish takes a context: a disk that hangs holds the caller only until ctx ends (producer/recorder calls it
// from a writer goroutine of its own, so that the measurement never waits for the disk at all).
//
//	runrec → Publish → spool.db (fsync) → shipper → Kafka (idempotent, acks=all) → delete from spool
//
// A Kafka outage, a network that comes and goes, a power cut or a SIGKILL only delay delivery: what Publish
// accepted stays in the spool until Kafka has it, and the next Open (the next producer run, or
// `producer spool flush`) ships what an earlier process left behind. Publish never waits for Kafka, only for the
// disk.
//
// # Guarantees
//
//   - At least once. A record is deleted after Kafka acknowledged it, so a crash between the acknowledgement and
//     the delete sends it again; the sink keeps one row per (run_id, seq).
//   - Order. Records leave in spool order and are keyed by run id, so a run's records stay in order on their
//     partition. When Kafka fails part of a batch, the failed records are sent again before anything newer.
//   - Bounded memory. The shipper reads the spool in batches (WithBatchLimits), so a spool that has grown for days
//     of outage costs disk, not memory.
//   - One process per spool. bbolt's file lock keeps a second producer from opening the same spool_dir; Open fails
//     fast with a message that says so.
//   - Bounded disk. spool.db never grows past producer.spool_max_bytes (default 4 GiB; 1 GiB on 32-bit builds,
//     where bbolt cannot map more). Publish refuses a record, with ErrSpoolFull and a message naming the cap and
//     the directory, once storing it would take the file past the cap less a reserve (1/32 of it, 256 KiB to
//     32 MiB) kept for deleting delivered records and for run_finished records; nothing already spooled is
//     dropped. Once delivered records leave the file mostly free (a quarter or less in use, and 1 MiB or more),
//     the spool is compacted into a new file that replaces it (compact.go): bbolt alone reuses free pages but
//     never shrinks its file.
//
// An entry in the spool that cannot be read (corrupted on disk, or written by a newer build) would block every
// entry behind it. The shipper moves it, under its key and with the reason, to a quarantine bucket in the same
// file, logs it and counts it (Stats.Quarantined), and goes on; Inspect lists it (Status.Quarantine). Nothing
// deletes it.
//
// A run that started and never finished (its producer was killed) is finished as aborted by the next Open. The
// spool's file lock, held while a Publisher is open and released by the kernel when its process dies, is what
// says that the run's producer is gone, so this holds for a producer that ran as PID 1 in a container too.
//
// A record Kafka refuses for good (a topic whose max.message.bytes is smaller than the record, a missing topic,
// a denied ACL) is not dropped: the shipper retries it forever with capped backoff and Stats().LastError says why,
// so fixing the broker side lets everything through in order. Publish refuses records that cannot fit a Kafka
// record batch of the broker's default size (ErrTooLarge), so with default broker settings that cannot happen
// for size.
//
// # Files
//
// The spool directory holds spool.db and, while a Publisher has it open, status.json: a snapshot of its Stats
// refreshed every second, which Inspect reads when the database is locked by that running process. During a
// compaction it also holds spool.db.compact, the copy that is renamed over spool.db; a copy left by a crash is
// removed by the next Open.
package publish
