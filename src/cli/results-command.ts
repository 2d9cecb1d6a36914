/** `intstream results TASK [--follow]`: a task's results as JSON Lines (deduplicated by the runtime). */
import { Command } from 'commander';
import { RuntimeClient } from '../control/http-client.ts';
import { runtimeUrl, token } from './control-options.ts';

export function resultsCommand(): Command {
  return new Command('results')
    .description("print a task's results as JSON Lines; --follow keeps streaming new ones")
    .argument('<id>', 'task id')
    .option('--runtime <url>', 'runtime URL (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'token (default $INTSTREAM_TOKEN)')
    .option('-f, --follow', 'stream new results as they come (server-sent events)')
    .option('--limit <n>', 'most recent results to print', '100000')
    .action(async (id: string, o: Record<string, any>) => {
      const url = runtimeUrl(o);
      const client = new RuntimeClient(url, token(o, false));
      // the DESIGN.md JSON Lines form: "task" is the task's name (the runtime keys results by id)
      const { name } = await client.call('GET', `/tasks/${encodeURIComponent(id)}`);
      const line = (r: any) => process.stdout.write(JSON.stringify({ task: name ?? r.task, window: r.window, key: r.key, value: r.value }) + '\n');
      if (!o.follow) {
        const { results } = await client.call('GET', `/tasks/${encodeURIComponent(id)}/results?limit=${Number(o.limit)}`);
        for (const r of results) line(r);
        return;
      }
      const res = await fetch(`${url.replace(/\/+$/, '')}/api/v1/tasks/${encodeURIComponent(id)}/events`);
      if (!res.ok || !res.body) throw new Error(`runtime: ${res.status}`);
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body) {
        buf += dec.decode(chunk as Uint8Array, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          if (!/^event: result$/m.test(ev)) continue;
          const data = /^data: (.*)$/m.exec(ev);
          if (data) line(JSON.parse(data[1]));
        }
      }
    });
}
