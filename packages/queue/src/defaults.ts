// The queue's defaults that help texts show, apart from the modules that load BullMQ and ioredis,
// so that a command run without --queue does not load them.

/** Rows per shard job when neither --shard-size nor the stage names a size. */
export const DEFAULT_SHARD_SIZE = 256;
