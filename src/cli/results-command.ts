/** `intstream results TASK [--follow]`: a task's results as JSON Lines (deduplicated by the runtime). */
import { Command } from 'commander';
import { IntstreamError } from '../errors.ts';
import { RuntimeClient } from '../control/http-client.ts';
import { clientTls, runtimeUrl, token, withClientTls } from './control-options.ts';

export function resultsCommand(): Command {
  return withClientTls(new Command('results'))
    .description("print a task's results as JSON Lines; --follow keeps streaming new ones")
    .argument('<id>', 'task id')
    .option('--runtime <url>', 'runtime URL (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'token (default $INTSTREAM_TOKEN)')
    .option('-f, --follow', 'stream new results as they come (server-sent events), until the task is stopped or finished')
    .option('--limit <n>', 'print at most this many, from the first result on (default: all)')
    .action(async (id: string, o: Record<string, any>) => {
      const url = runtimeUrl(o);
      const client = new RuntimeClient(url, token(o, false), clientTls(o, url));
      // the JSON Lines form of docs/contracts.md: "task" is the task's name (the runtime keys results by id)
      const { name } = await client.call('GET', `/tasks/${encodeURIComponent(id)}`);
      const line = (r: any) => process.stdout.write(JSON.stringify({ task: name ?? r.task, window: r.window, key: r.key, value: r.value }) + '\n');
      // page through from the start (the runtime's cursor), however many there are
      let left = o.limit === undefined || o.follow ? Infinity : Number(o.limit);
      if (!(left >= 0)) throw new IntstreamError('USAGE', `--limit ${o.limit}: not a number`);
      let last = 0;
      for (let after: number | null = 0; after !== null && left > 0;) {
        const page: { results: any[]; next: number | null } = await client.call('GET', `/tasks/${encodeURIComponent(id)}/results?after=${after}&limit=${Math.min(10_000, left)}`);
        for (const r of page.results) line(r);
        if (page.results.length > 0) last = page.results[page.results.length - 1].seq;
        left -= page.results.length;
        after = page.next;
      }
      if (!o.follow) return;
      // then the stream, from the last result printed (without `after` it would start at the most
      // recent 1000); it ends at once when the task has ended already
      const stop = new AbortController();
      const res = await client.open('GET', `/tasks/${encodeURIComponent(id)}/events${last > 0 ? `?after=${last}` : ''}`, undefined, { accept: 'text/event-stream', signal: stop.signal });
      if (res.statusCode !== 200) {
        let text = '';
        for await (const c of res) text += c;
        let msg = text;
        try { msg = JSON.parse(text).message ?? text; } catch { /* not JSON */ }
        throw new IntstreamError('TRANSPORT', `runtime ${url}: ${res.statusCode} ${msg}`);
      }
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const dec = new TextDecoder();
      let buf = '';
      let ended = false;
      let broke = '';
      try {
        for await (const chunk of res as AsyncIterable<Uint8Array>) {
          if (stop.signal.aborted) break;
          buf += dec.decode(chunk, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, i); buf = buf.slice(i + 2);
            if (/^event: end$/m.test(ev)) ended = true;
            if (!/^event: result$/m.test(ev)) continue;
            const data = /^data: (.*)$/m.exec(ev);
            if (data) line(JSON.parse(data[1]));
          }
          if (ended) break;
        }
      } catch (e) {
        if (!stop.signal.aborted) broke = ` (${(e as Error).message})`;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      // a signal ends the command quietly; the stream's end without `event: end` is the runtime going away
      if (!ended && !stop.signal.aborted) throw new IntstreamError('TRANSPORT', `runtime ${url}: closed the event stream before the task ended${broke}`);
      process.exit(0); // the response body may hold the socket open
    });
}
