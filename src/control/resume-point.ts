/**
 * Where an agent restarted mid-task (same --name, or a new machine given the same file) resumes
 * a task's local stage on a capture file, instead of reading the file from its start again.
 *
 * The local stage sends a window's partial results only when the window closes, in a message
 * whose watermark H says "nothing earlier than H follows" (operator.ts: a windowed operator holds
 * the watermark at its lowest open window's start). Once Kafka acknowledged that message, every
 * window with start < H is out, and every window still open starts at H or later, so it holds
 * only records with time >= H. The resume point is therefore the latest batch boundary before
 * which every record read was earlier than H: its file offset (with the pcapng parser state
 * there, capture-file-source.ts `resumePoint()`), the source's time there (the latest timestamp
 * read before it, so lateness and closed windows are judged as in the first run) and the number
 * of records before it. The agent reports it in its heartbeat per task; the runtime stores it
 * and hands it back with the task, and a restarted agent opens the file at that offset, after
 * checking that the source spec, the file's size and a SHA-256 of its first 64 KiB are the same
 * (the modification time is recorded but not required: a copy on a new disk has a new one).
 *
 * De-duplication at the GSP (gsp-worker.ts, kafka-transport.ts `dropResent`). The checkpoint the
 * runtime holds lags what the agent had sent (a heartbeat is at most a second old), so a resumed
 * stage re-makes windows the GSP may have received already, and would count them twice: the GSP
 * merges whatever a source sends before every source sealed a window, and drops only elements
 * earlier than the global released time. So a resumed stage marks its messages `resumed`, and the
 * GSP drops, per partition, the elements of such a message that are earlier than that source's
 * watermark on that partition: a window reached that partition exactly when a message sealing
 * past its start did (the message that carries it is the first one whose watermark passes its
 * start), so those elements are the ones it has, and the later ones are the ones it lacks. A
 * resumed stage also numbers its messages from `incarnation * 2^32` (the runtime counts the
 * agent's registrations), above every sequence number an earlier run used, so the GSP's
 * (source, seq) de-duplication does not take the new messages for old ones.
 *
 * That reasoning needs every element a local stage sends to come out of a windowed operator
 * (time = its window's start, below the watermark it is sent with) and no keyed state that
 * outlives windows (process()): `resumableStage` says why a stage is not resumable, and such a
 * task starts over from the beginning of the file, as before (its messages, made again from the
 * same file, carry the same sequence numbers, which the GSP drops as seen).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { SplitPlan } from '../query/pipeline.ts';
import type { CaptureFileSource, CaptureResumePoint } from '../sources/capture-file-source.ts';
import { SAMPLE_CAPTURE } from '../sources/source-spec.ts';

/** What identifies a capture file across machines: its size and a hash of its first bytes. */
export interface FileIdentity {
  size: number;
  mtime_ms: number;
  /** SHA-256 (hex) of the first HEAD_BYTES bytes. */
  head_sha256: string;
}

const HEAD_BYTES = 64 << 10;

/** A task's resume point on one agent (JSON: the heartbeat carries it, the runtime stores it). */
export interface Checkpoint {
  v: 1;
  /** The agent's --source spec. */
  source: string;
  file: FileIdentity;
  /** Where the file is opened again. */
  at: CaptureResumePoint;
  /** The source's time (latest timestamp read) before `at`; null when nothing was read. */
  time: number | null;
  /** The watermark of the acknowledged message: windows from here on are made again (null: +inf, the end). */
  watermark: number | null;
  /** Records read before `at` (over every earlier run). */
  items_before: number;
}

/** The capture file a `pcap:PATH` spec reads (as source-spec.ts resolves it), or null: stdin, another kind of source. */
export function capturePath(spec: string): string | null {
  if (!spec.startsWith('pcap:')) return null;
  const rest = spec.slice(5);
  if (rest === '-' || rest === '') return null;
  return rest === 'sample' && !existsSync(rest) ? SAMPLE_CAPTURE : rest;
}

/**
 * Null when a task's local stage can resume mid-file (see the top of this file), else why not:
 * its output must come from a windowed operator (aggregate, count, reduce, transform), followed
 * only by filter, map, flatMap or key, and it must hold no process() state.
 */
export function resumableStage(split: SplitPlan): string | null {
  const ops = split.local;
  if (ops.some((o) => o.kind === 'process')) return 'the local stage keeps keyed state across windows (process())';
  let last = -1;
  for (let i = 0; i < ops.length; i++) if (ops[i].kind === 'aggregate' || ops[i].kind === 'transform') last = i;
  if (last < 0) return 'the local stage sends elements that are not windowed results';
  if (!ops.slice(last + 1).every((o) => o.kind === 'filter' || o.kind === 'map' || o.kind === 'flatMap' || o.kind === 'key')) {
    return 'the local stage ends in something other than a windowed result';
  }
  return null;
}

/** The file's identity, or null when it cannot be read (the source then fails with its own message). */
export function fileIdentity(path: string): FileIdentity | null {
  let fd: number | null = null;
  try {
    const st = statSync(path);
    if (!st.isFile()) return null;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(Math.min(HEAD_BYTES, st.size));
    let got = 0;
    while (got < head.length) {
      const n = readSync(fd, head, got, head.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { size: st.size, mtime_ms: Math.floor(st.mtimeMs), head_sha256: createHash('sha256').update(head.subarray(0, got)).digest('hex') };
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Null when `ck` may be resumed on `source` whose file is now `file`, else why not. */
export function checkpointMismatch(ck: Checkpoint, source: string, file: FileIdentity | null): string | null {
  if (ck === null || typeof ck !== 'object' || ck.v !== 1 || typeof ck.at?.offset !== 'number') return 'the stored resume point is not one this agent reads';
  if (ck.source !== source) return `the resume point was taken on source ${ck.source}, this agent reads ${source}`;
  if (file === null) return 'the capture file cannot be read';
  if (ck.file.size !== file.size) return `the file's size changed (${ck.file.size} bytes then, ${file.size} now)`;
  if (ck.file.head_sha256 !== file.head_sha256) return `the file's first ${HEAD_BYTES >> 10} KiB differ from when the resume point was taken`;
  if (ck.at.offset > file.size) return `the resume offset ${ck.at.offset} lies past the end of the file`;
  return null;
}

/** A batch boundary: where the next batch starts, the source's time and the records read before it. */
interface Mark { at: CaptureResumePoint; maxTs: number; read: number }

/**
 * Follows one local stage on a capture file: a mark before each batch (LocalProcessor
 * `beforeBatch`), and after each message Kafka acknowledged (`acked`, with its watermark) the
 * checkpoint moves to the latest mark before which every record was earlier than that watermark.
 * Marks older than the checkpoint are dropped, so they stay as few as the batches of the windows
 * in flight.
 */
export class ResumeTracker {
  private readonly source: CaptureFileSource;
  private readonly spec: string;
  private readonly file: FileIdentity;
  /** Records read before this run started (a resumed run's checkpoint). */
  private readonly itemsBase: number;
  private marks: Mark[] = [];
  checkpoint: Checkpoint | null = null;
  /** Bumped at each new checkpoint (the agent reports a checkpoint once per change). */
  version = 0;

  constructor(source: CaptureFileSource, spec: string, file: FileIdentity, itemsBase = 0) {
    this.source = source;
    this.spec = spec;
    this.file = file;
    this.itemsBase = itemsBase;
  }

  mark(maxTs: number, read: number): void {
    this.marks.push({ at: this.source.resumePoint(), maxTs, read });
  }

  acked(watermark: number): void {
    const marks = this.marks;
    let k = -1;
    for (let i = 0; i < marks.length && marks[i].maxTs < watermark; i++) k = i;
    if (k < 0) return;
    const m = marks[k];
    if (k > 0) this.marks = marks.slice(k);
    const wm = watermark === Infinity ? null : watermark;
    if (this.checkpoint && this.checkpoint.at.offset === m.at.offset && this.checkpoint.watermark === wm) return;
    this.checkpoint = {
      v: 1, source: this.spec, file: this.file, at: m.at,
      time: m.maxTs === -Infinity ? null : m.maxTs, watermark: wm, items_before: this.itemsBase + m.read,
    };
    this.version++;
  }
}
