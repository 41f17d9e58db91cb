// Entry point forked for each run: registers tsx (no build step), then loads the TypeScript worker.
// The word "worker" in this path is how a takeover recognises an orphan before killing its pid.
// If the scheduler dies (kill -9) while this process is still starting, the IPC channel is already
// gone: stop before doing any work, so no orphan trains into a directory a rerun will use.
if (!process.connected) process.exit(137);
process.on('disconnect', () => process.exit(137));

const { register } = await import('tsx/esm/api');
register();
await import('./worker.ts');
