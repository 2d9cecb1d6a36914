// NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) decoder. One decoder takes all three,
// dispatching on the version field, and keeps a template cache per exporting session:
// (exporter, v9 source id / IPFIX observation domain id), where `exporter` is the string the
// caller passes for the datagram's source (address and port).
//
// Templates:
//   - v9 template (0) and options template (1) flowsets; IPFIX template (2) and options
//     template (3) sets, enterprise-specific fields, variable-length fields (RFC 7011 7),
//     withdrawals (field count 0; template id 2 / 3 withdraws all (options) templates).
//   - a template not refreshed for `templateLifetime` seconds of the exporter's own clock
//     (header export time) expires (RFC 7011 8.4 for UDP; same rule applied to v9).
//   - options data records are not delivered; systemInitTimeMilliseconds (160) and sampling
//     intervals (34, 305) found in them are remembered for the session.
// Data sets whose template is unknown are counted under 'no-template' (per set) and skipped.

import {
  AddrCache,
  newCounters,
  u16,
  u32,
  uN,
  type FlowCounters,
  type FlowDecoder,
  type FlowStatus,
  type NetflowRecord,
  type OnFlowRecord,
} from './common.ts';

// ---- field kinds a template field is compiled to ----
const K_SKIP = 0;
const K_SRC4 = 1;
const K_DST4 = 2;
const K_SRC6 = 3;
const K_DST6 = 4;
const K_PROTO = 5;
const K_TOS = 6;
const K_TCPFLAGS = 7;
const K_SPORT = 8;
const K_DPORT = 9;
const K_BYTES = 10;
const K_PKTS = 11;
const K_BYTES_ALT = 12;
const K_PKTS_ALT = 13;
const K_IN = 14;
const K_OUT = 15;
const K_START_UP = 16;
const K_END_UP = 17;
const K_START_S = 18;
const K_END_S = 19;
const K_START_MS = 20;
const K_END_MS = 21;
const K_START_NTP = 22;
const K_END_NTP = 23;
const K_START_DUS = 24;
const K_END_DUS = 25;
const K_INIT_MS = 26;
const K_VLAN = 27;
const K_ICMP_TC = 28;
const K_ICMP_TYPE = 29;
const K_ICMP_CODE = 30;
const K_SAMPLING = 31;

const VARLEN = 0xffff;
const NTP_UNIX_OFFSET = 2208988800;
const UPTIME_WRAP_MS = 4294967296;

/** Kind of an information element / v9 field type of the given length (non-enterprise). */
function kindOf(ie: number, len: number): number {
  const intOk = len >= 1 && len <= 8;
  switch (ie) {
    case 1:
      return intOk ? K_BYTES : K_SKIP; // octetDeltaCount / IN_BYTES
    case 2:
      return intOk ? K_PKTS : K_SKIP; // packetDeltaCount / IN_PKTS
    case 4:
      return intOk ? K_PROTO : K_SKIP; // protocolIdentifier / PROTOCOL
    case 5:
      return intOk ? K_TOS : K_SKIP; // ipClassOfService / SRC_TOS
    case 6:
      return intOk ? K_TCPFLAGS : K_SKIP; // tcpControlBits / TCP_FLAGS
    case 7:
    case 180: // udpSourcePort
    case 182: // tcpSourcePort
      return intOk ? K_SPORT : K_SKIP;
    case 11:
    case 181: // udpDestinationPort
    case 183: // tcpDestinationPort
      return intOk ? K_DPORT : K_SKIP;
    case 8:
      return len === 4 ? K_SRC4 : K_SKIP;
    case 12:
      return len === 4 ? K_DST4 : K_SKIP;
    case 27:
      return len === 16 ? K_SRC6 : K_SKIP;
    case 28:
      return len === 16 ? K_DST6 : K_SKIP;
    case 10:
      return intOk ? K_IN : K_SKIP; // ingressInterface / INPUT_SNMP
    case 14:
      return intOk ? K_OUT : K_SKIP; // egressInterface / OUTPUT_SNMP
    case 21:
      return intOk ? K_END_UP : K_SKIP; // flowEndSysUpTime / LAST_SWITCHED
    case 22:
      return intOk ? K_START_UP : K_SKIP; // flowStartSysUpTime / FIRST_SWITCHED
    case 23: // postOctetDeltaCount / OUT_BYTES
    case 85: // octetTotalCount
      return intOk ? K_BYTES_ALT : K_SKIP;
    case 24: // postPacketDeltaCount / OUT_PKTS
    case 86: // packetTotalCount
      return intOk ? K_PKTS_ALT : K_SKIP;
    case 32: // icmpTypeCodeIPv4
    case 139: // icmpTypeCodeIPv6
      return len === 2 ? K_ICMP_TC : K_SKIP;
    case 176: // icmpTypeIPv4
    case 178: // icmpTypeIPv6
      return len === 1 ? K_ICMP_TYPE : K_SKIP;
    case 177:
    case 179:
      return len === 1 ? K_ICMP_CODE : K_SKIP;
    case 34: // samplingInterval / SAMPLING_INTERVAL
    case 305: // samplingPacketInterval
      return intOk ? K_SAMPLING : K_SKIP;
    case 58: // vlanId / SRC_VLAN
    case 243: // dot1qVlanId
      return intOk ? K_VLAN : K_SKIP;
    case 150:
      return intOk ? K_START_S : K_SKIP;
    case 151:
      return intOk ? K_END_S : K_SKIP;
    case 152:
      return intOk ? K_START_MS : K_SKIP;
    case 153:
      return intOk ? K_END_MS : K_SKIP;
    case 154: // flowStartMicroseconds (NTP format)
    case 156: // flowStartNanoseconds (NTP format)
      return len === 8 ? K_START_NTP : K_SKIP;
    case 155:
    case 157:
      return len === 8 ? K_END_NTP : K_SKIP;
    case 158:
      return intOk ? K_START_DUS : K_SKIP; // flowStartDeltaMicroseconds
    case 159:
      return intOk ? K_END_DUS : K_SKIP;
    case 160:
      return intOk ? K_INIT_MS : K_SKIP; // systemInitTimeMilliseconds
    default:
      return K_SKIP;
  }
}

interface Template {
  id: number;
  options: boolean;
  kinds: Uint8Array;
  /** Field lengths; VARLEN (IPFIX only) for variable-length fields. */
  lens: Uint16Array;
  /** Record length when all fields are fixed, else -1. */
  fixedLen: number;
  /** Smallest possible record length (variable fields count 1). */
  minLen: number;
  /** Exporter time (s) of the last (re)definition. */
  refreshed: number;
}

interface Session {
  templates: Map<number, Template>;
  /** systemInitTimeMilliseconds from options data (IPFIX), ms since the epoch. */
  initTimeMs: number;
  /** Sampling interval from options data. */
  sampling: number;
}

export interface NetflowCounters extends FlowCounters {
  /** Template and options template records accepted (new or refreshed). */
  templates: number;
  /** Templates removed by IPFIX withdrawal records. */
  withdrawn: number;
  /** Templates dropped because their lifetime ran out. */
  expired: number;
  /** Options data records read (not delivered). */
  optionRecords: number;
}

export interface NetflowDecoderOptions {
  /** Seconds (of exporter time) after which an unrefreshed template expires; 0 = never. Default 1800. */
  templateLifetime?: number;
  /** Most (exporter, domain) sessions kept; the oldest is dropped beyond. Default 4096. */
  maxSessions?: number;
  /** Slots of the address-text cache. Default 1024. */
  addrCacheSlots?: number;
}

// per-datagram scratch result codes of set parsing
const R_OK = 0;
const R_TRUNC = 1;
const R_MALFORMED = 2;

export class NetflowDecoder implements FlowDecoder {
  readonly counters: NetflowCounters;
  private readonly lifetime: number;
  private readonly maxSessions: number;
  private readonly addrs: AddrCache;
  private readonly rec: NetflowRecord;
  private readonly sessions = new Map<string, Session>();
  private lastExporter: string | null = null;
  private lastDomain = -1;
  private lastSession: Session | null = null;

  // header values of the message being decoded
  private isIpfix = false;
  private hdrUptime = 0;
  private hdrSecs = 0;
  private hdrNsecs = 0;
  // per-datagram tallies (v9 count check)
  private parsed = 0;
  private uncountable = false;

  constructor(opts: NetflowDecoderOptions = {}) {
    const c = newCounters();
    this.counters = { ...c, templates: 0, withdrawn: 0, expired: 0, optionRecords: 0 };
    this.lifetime = opts.templateLifetime ?? 1800;
    this.maxSessions = Math.max(1, opts.maxSessions ?? 4096);
    this.addrs = new AddrCache(opts.addrCacheSlots ?? 1024);
    this.rec = {
      type: 'flow',
      'flow.format': 'netflow5',
      'flow.exporter': '',
      'flow.domain': 0,
      'flow.sequence': 0,
      'ip.version': null,
      'ip.src': null,
      'ip.dst': null,
      'ip.proto': null,
      'ip.tos': null,
      'tcp.sport': null,
      'tcp.dport': null,
      'udp.sport': null,
      'udp.dport': null,
      'tcp.flags': null,
      'icmp.type': null,
      'icmp.code': null,
      'flow.packets': null,
      'flow.bytes': null,
      'flow.start': null,
      'flow.end': null,
      'flow.input': null,
      'flow.output': null,
      'vlan.id': null,
      'flow.sampling': null,
    };
  }

  /** Number of (exporter, domain) sessions holding templates. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Forget all templates and session state. */
  reset(): void {
    this.sessions.clear();
    this.lastExporter = null;
    this.lastSession = null;
  }

  decode(buf: Uint8Array, off: number, len: number, exporter: string, onRecord: OnFlowRecord): FlowStatus {
    const c = this.counters;
    c.datagrams++;
    if (!(off >= 0) || !(len >= 0) || off + len > buf.length) {
      if (!(off >= 0) || off > buf.length) off = buf.length;
      len = Math.max(0, Math.min(len | 0, buf.length - off));
    }
    const end = off + len;
    if (len < 2) return this.finish(R_TRUNC);
    const version = u16(buf, off);
    let r: number;
    if (version === 5) r = this.v5(buf, off, end, exporter, onRecord);
    else if (version === 9) r = this.v9(buf, off, end, exporter, onRecord);
    else if (version === 10) r = this.ipfix(buf, off, end, exporter, onRecord);
    else {
      c.skipped['bad-version']++;
      return 'bad-version';
    }
    return this.finish(r);
  }

  private finish(r: number): FlowStatus {
    if (r === R_OK) return 'ok';
    if (r === R_TRUNC) {
      this.counters.skipped.truncated++;
      return 'truncated';
    }
    this.counters.skipped.malformed++;
    return 'malformed';
  }

  private resetRec(format: NetflowRecord['flow.format'], exporter: string, domain: number, seq: number): void {
    const r = this.rec;
    r['flow.format'] = format;
    r['flow.exporter'] = exporter;
    r['flow.domain'] = domain;
    r['flow.sequence'] = seq;
  }

  private clearFields(): void {
    const r = this.rec;
    r['ip.version'] = null;
    r['ip.src'] = null;
    r['ip.dst'] = null;
    r['ip.proto'] = null;
    r['ip.tos'] = null;
    r['tcp.sport'] = null;
    r['tcp.dport'] = null;
    r['udp.sport'] = null;
    r['udp.dport'] = null;
    r['tcp.flags'] = null;
    r['icmp.type'] = null;
    r['icmp.code'] = null;
    r['flow.packets'] = null;
    r['flow.bytes'] = null;
    r['flow.start'] = null;
    r['flow.end'] = null;
    r['flow.input'] = null;
    r['flow.output'] = null;
    r['vlan.id'] = null;
    r['flow.sampling'] = null;
  }

  /** Ports / ICMP type-code by protocol. `icmpTC` < 0 when absent. */
  private setPorts(proto: number, sport: number, dport: number, icmpTC: number): void {
    const r = this.rec;
    if (proto === 6) {
      if (sport >= 0) r['tcp.sport'] = sport;
      if (dport >= 0) r['tcp.dport'] = dport;
    } else if (proto === 17) {
      if (sport >= 0) r['udp.sport'] = sport;
      if (dport >= 0) r['udp.dport'] = dport;
    } else if (proto === 1 || proto === 58) {
      // without an ICMP IE, exporters carry type << 8 | code in the destination port
      const tc = icmpTC >= 0 ? icmpTC : dport;
      if (tc >= 0) {
        r['icmp.type'] = (tc >> 8) & 0xff;
        r['icmp.code'] = tc & 0xff;
      }
    }
  }

  // ---------------------------------------------------------------- NetFlow v5

  private v5(b: Uint8Array, off: number, end: number, exporter: string, onRecord: OnFlowRecord): number {
    if (end - off < 24) return R_TRUNC;
    const count = u16(b, off + 2);
    const uptime = u32(b, off + 4);
    const secs = u32(b, off + 8);
    const nsecs = u32(b, off + 12);
    const seq = u32(b, off + 16);
    const domain = u16(b, off + 20);
    const sampling = u16(b, off + 22) & 0x3fff;
    const now = secs + nsecs / 1e9;
    const r = this.rec;
    this.resetRec('netflow5', exporter, domain, seq);
    let p = off + 24;
    for (let i = 0; i < count; i++) {
      if (p + 48 > end) return R_TRUNC;
      this.clearFields();
      r['ip.version'] = 4;
      r['ip.src'] = this.addrs.v4(b, p);
      r['ip.dst'] = this.addrs.v4(b, p + 4);
      r['flow.input'] = u16(b, p + 12);
      r['flow.output'] = u16(b, p + 14);
      r['flow.packets'] = u32(b, p + 16);
      r['flow.bytes'] = u32(b, p + 20);
      // First/Last are sysUptime (ms) at the first/last packet; signed difference survives wrap
      r['flow.start'] = now - ((uptime - u32(b, p + 24)) | 0) / 1000;
      r['flow.end'] = now - ((uptime - u32(b, p + 28)) | 0) / 1000;
      const proto = b[p + 38]!;
      r['ip.proto'] = proto;
      r['ip.tos'] = b[p + 39]!;
      if (proto === 6) r['tcp.flags'] = b[p + 37]!;
      this.setPorts(proto, u16(b, p + 32), u16(b, p + 34), -1);
      r['flow.sampling'] = sampling === 0 ? null : sampling;
      p += 48;
      this.counters.records++;
      onRecord(r);
    }
    return R_OK;
  }

  // ---------------------------------------------------------------- sessions

  private session(exporter: string, domain: number): Session {
    if (exporter === this.lastExporter && domain === this.lastDomain && this.lastSession !== null) {
      return this.lastSession;
    }
    const key = `${exporter}|${domain}`;
    let s = this.sessions.get(key);
    if (s === undefined) {
      s = { templates: new Map(), initTimeMs: -1, sampling: -1 };
      if (this.sessions.size >= this.maxSessions) {
        const oldest = this.sessions.keys().next().value;
        if (oldest !== undefined) this.sessions.delete(oldest);
      }
      this.sessions.set(key, s);
    }
    this.lastExporter = exporter;
    this.lastDomain = domain;
    this.lastSession = s;
    return s;
  }

  private lookup(s: Session, id: number): Template | undefined {
    const t = s.templates.get(id);
    if (t === undefined) return undefined;
    if (this.lifetime > 0 && this.hdrSecs - t.refreshed > this.lifetime) {
      s.templates.delete(id);
      this.counters.expired++;
      return undefined;
    }
    return t;
  }

  private define(s: Session, t: Template): void {
    s.templates.set(t.id, t);
    this.counters.templates++;
    this.parsed++;
  }

  // ---------------------------------------------------------------- NetFlow v9

  private v9(b: Uint8Array, off: number, end: number, exporter: string, onRecord: OnFlowRecord): number {
    if (end - off < 20) return R_TRUNC;
    const count = u16(b, off + 2);
    this.isIpfix = false;
    this.hdrUptime = u32(b, off + 4);
    this.hdrSecs = u32(b, off + 8);
    this.hdrNsecs = 0;
    const seq = u32(b, off + 12);
    const domain = u32(b, off + 16);
    const s = this.session(exporter, domain);
    this.resetRec('netflow9', exporter, domain, seq);
    this.parsed = 0;
    this.uncountable = false;
    let p = off + 20;
    let result = R_OK;
    while (end - p >= 4) {
      const id = u16(b, p);
      const slen = u16(b, p + 2);
      if (slen < 4) {
        result = R_MALFORMED;
        break;
      }
      if (slen > end - p) {
        result = R_TRUNC;
        break;
      }
      const sp = p + 4;
      const send = p + slen;
      p = send;
      let r = R_OK;
      if (id === 0) r = this.v9Templates(b, sp, send, s);
      else if (id === 1) r = this.v9OptionTemplates(b, sp, send, s);
      else if (id >= 256) r = this.dataSet(b, sp, send, s, id, onRecord);
      else {
        this.counters.skipped['unknown-record']++;
        this.uncountable = true;
      }
      if (r !== R_OK && result === R_OK) result = r;
    }
    // a cut on a flowset boundary leaves a well-formed but short datagram: the header count
    // (templates + option templates + data records) tells, when every set could be counted
    if (result === R_OK && !this.uncountable && this.parsed < count) result = R_TRUNC;
    return result;
  }

  private v9Templates(b: Uint8Array, p: number, end: number, s: Session): number {
    while (end - p >= 4) {
      const id = u16(b, p);
      const n = u16(b, p + 2);
      if (id === 0 && n === 0) return R_OK; // padding
      if (id < 256 || n === 0) return R_MALFORMED;
      if (n * 4 > end - p - 4) return R_MALFORMED;
      p += 4;
      const t = this.compile(id, false, n, this.hdrSecs);
      p = this.v9Fields(b, p, t, n, 0);
      if (t.fixedLen === 0) return R_MALFORMED;
      this.define(s, t);
    }
    return R_OK;
  }

  private v9OptionTemplates(b: Uint8Array, p: number, end: number, s: Session): number {
    while (end - p >= 6) {
      const id = u16(b, p);
      const scopeLen = u16(b, p + 2);
      const optLen = u16(b, p + 4);
      if (id === 0 && scopeLen === 0 && optLen === 0) return R_OK; // padding
      if (id < 256 || scopeLen % 4 !== 0 || optLen % 4 !== 0) return R_MALFORMED;
      if (scopeLen + optLen > end - p - 6) return R_MALFORMED;
      const nScope = scopeLen / 4;
      const n = nScope + optLen / 4;
      if (n === 0) return R_MALFORMED;
      p += 6;
      const t = this.compile(id, true, n, this.hdrSecs);
      p = this.v9Fields(b, p, t, n, nScope);
      if (t.fixedLen === 0) return R_MALFORMED;
      this.define(s, t);
    }
    return R_OK;
  }

  /**
   * Reads the n (type, length) pairs of a v9 (options) template into `t`; the first nScope are
   * scope fields (system, interface, ...), which are not IEs and are never decoded. Sets the
   * template's fixed length (0 means a malformed template). Returns the offset after them.
   */
  private v9Fields(b: Uint8Array, p: number, t: Template, n: number, nScope: number): number {
    let total = 0;
    for (let i = 0; i < n; i++, p += 4) {
      const l = u16(b, p + 2);
      t.kinds[i] = i < nScope ? K_SKIP : kindOf(u16(b, p), l);
      t.lens[i] = l;
      total += l;
    }
    t.fixedLen = total;
    t.minLen = total;
    return p;
  }

  private compile(id: number, options: boolean, n: number, now: number): Template {
    return {
      id,
      options,
      kinds: new Uint8Array(n),
      lens: new Uint16Array(n),
      fixedLen: -1,
      minLen: 0,
      refreshed: now,
    };
  }

  // ---------------------------------------------------------------- IPFIX

  private ipfix(b: Uint8Array, off: number, end: number, exporter: string, onRecord: OnFlowRecord): number {
    let p = off;
    let result = R_OK;
    this.isIpfix = true;
    this.uncountable = true;
    // a buffer may hold several messages back to back (stream transports, files)
    while (p < end && result === R_OK) {
      if (end - p < 16) return R_TRUNC;
      if (u16(b, p) !== 10) return R_MALFORMED;
      const mlen = u16(b, p + 2);
      if (mlen < 16) return R_MALFORMED;
      let mend = p + mlen;
      if (mend > end) {
        result = R_TRUNC;
        mend = end;
      }
      this.hdrSecs = u32(b, p + 4);
      this.hdrNsecs = 0;
      this.hdrUptime = 0;
      const seq = u32(b, p + 8);
      const domain = u32(b, p + 12);
      const s = this.session(exporter, domain);
      this.resetRec('ipfix', exporter, domain, seq);
      let q = p + 16;
      while (mend - q >= 4) {
        const id = u16(b, q);
        const slen = u16(b, q + 2);
        if (slen < 4) return R_MALFORMED;
        if (slen > mend - q) return R_TRUNC;
        const sp = q + 4;
        const send = q + slen;
        q = send;
        let r = R_OK;
        if (id === 2) r = this.ipfixTemplates(b, sp, send, s, false);
        else if (id === 3) r = this.ipfixTemplates(b, sp, send, s, true);
        else if (id >= 256) r = this.dataSet(b, sp, send, s, id, onRecord);
        else this.counters.skipped['unknown-record']++;
        if (r !== R_OK) return r;
      }
      if (q !== mend && result === R_OK) return R_MALFORMED; // 1..3 stray bytes inside the message
      p = mend;
    }
    return result;
  }

  private ipfixTemplates(b: Uint8Array, p: number, end: number, s: Session, options: boolean): number {
    while (end - p >= 4) {
      const id = u16(b, p);
      const n = u16(b, p + 2);
      if (id === 0) return R_OK; // padding
      if (n === 0) {
        // withdrawal
        p += 4;
        if (id === (options ? 3 : 2)) {
          for (const [tid, t] of s.templates) {
            if (t.options === options) {
              s.templates.delete(tid);
              this.counters.withdrawn++;
            }
          }
        } else if (id >= 256) {
          if (s.templates.delete(id)) this.counters.withdrawn++;
        } else {
          return R_MALFORMED;
        }
        continue;
      }
      if (id < 256) return R_MALFORMED;
      let q = p + 4;
      let nScope = 0;
      if (options) {
        if (end - q < 2) return R_MALFORMED;
        nScope = u16(b, q);
        q += 2;
        if (nScope === 0 || nScope > n) return R_MALFORMED;
      }
      const t = this.compile(id, options, n, this.hdrSecs);
      let fixed = 0;
      let min = 0;
      let variable = false;
      for (let i = 0; i < n; i++) {
        if (end - q < 4) return R_MALFORMED;
        const raw = u16(b, q);
        const l = u16(b, q + 2);
        q += 4;
        const enterprise = raw >= 0x8000;
        if (enterprise) {
          if (end - q < 4) return R_MALFORMED;
          q += 4;
        }
        t.kinds[i] = enterprise || l === VARLEN || i < nScope ? K_SKIP : kindOf(raw, l);
        t.lens[i] = l;
        if (l === VARLEN) {
          variable = true;
          min += 1;
        } else {
          fixed += l;
          min += l;
        }
      }
      if (min === 0) return R_MALFORMED;
      t.fixedLen = variable ? -1 : fixed;
      t.minLen = min;
      this.define(s, t);
      p = q;
    }
    return R_OK;
  }

  // ---------------------------------------------------------------- data

  private dataSet(b: Uint8Array, p: number, end: number, s: Session, id: number, onRecord: OnFlowRecord): number {
    const t = this.lookup(s, id);
    if (t === undefined) {
      this.counters.skipped['no-template']++;
      this.uncountable = true;
      return R_OK;
    }
    const c = this.counters;
    if (t.fixedLen > 0) {
      const rl = t.fixedLen;
      while (end - p >= rl) {
        this.record(b, p, end, t, s);
        p += rl;
        this.parsed++;
        if (t.options) c.optionRecords++;
        else {
          c.records++;
          onRecord(this.rec);
        }
      }
      return R_OK;
    }
    while (end - p >= t.minLen) {
      const q = this.record(b, p, end, t, s);
      if (q < 0) return R_MALFORMED;
      p = q;
      this.parsed++;
      if (t.options) c.optionRecords++;
      else {
        c.records++;
        onRecord(this.rec);
      }
    }
    return R_OK;
  }

  /** Decodes one data record into this.rec (or, for options templates, into the session). Returns the end offset or -1. */
  private record(b: Uint8Array, p: number, end: number, t: Template, s: Session): number {
    const r = this.rec;
    this.clearFields();
    const kinds = t.kinds;
    const lens = t.lens;
    const n = kinds.length;
    let proto = -1;
    let sport = -1;
    let dport = -1;
    let icmpTC = -1;
    let icmpT = -1;
    let icmpC = -1;
    let bytes = -1;
    let bytesAlt = -1;
    let pkts = -1;
    let pktsAlt = -1;
    let startUp = -1;
    let endUp = -1;
    let start = -1;
    let fin = -1;
    let initMs = -1;
    let sampling = -1;
    for (let i = 0; i < n; i++) {
      let l = lens[i]!;
      if (l === VARLEN) {
        if (p >= end) return -1;
        l = b[p]!;
        p++;
        if (l === 255) {
          if (end - p < 2) return -1;
          l = u16(b, p);
          p += 2;
        }
      }
      if (l > end - p) return -1;
      switch (kinds[i]) {
        case K_SKIP:
          break;
        case K_SRC4:
          r['ip.src'] = this.addrs.v4(b, p);
          r['ip.version'] = 4;
          break;
        case K_DST4:
          r['ip.dst'] = this.addrs.v4(b, p);
          r['ip.version'] = 4;
          break;
        case K_SRC6:
          r['ip.src'] = this.addrs.v6(b, p);
          r['ip.version'] = 6;
          break;
        case K_DST6:
          r['ip.dst'] = this.addrs.v6(b, p);
          r['ip.version'] = 6;
          break;
        case K_PROTO:
          proto = uN(b, p, l);
          break;
        case K_TOS:
          r['ip.tos'] = uN(b, p, l);
          break;
        case K_TCPFLAGS:
          // 2-byte tcpControlBits carries the header's data-offset/reserved nibble too; keep the flags
          r['tcp.flags'] = uN(b, p, l) & 0xfff;
          break;
        case K_SPORT:
          sport = uN(b, p, l);
          break;
        case K_DPORT:
          dport = uN(b, p, l);
          break;
        case K_BYTES:
          bytes = uN(b, p, l);
          break;
        case K_PKTS:
          pkts = uN(b, p, l);
          break;
        case K_BYTES_ALT:
          bytesAlt = uN(b, p, l);
          break;
        case K_PKTS_ALT:
          pktsAlt = uN(b, p, l);
          break;
        case K_IN:
          r['flow.input'] = uN(b, p, l);
          break;
        case K_OUT:
          r['flow.output'] = uN(b, p, l);
          break;
        case K_START_UP:
          startUp = uN(b, p, l);
          break;
        case K_END_UP:
          endUp = uN(b, p, l);
          break;
        case K_START_S:
          start = uN(b, p, l);
          break;
        case K_END_S:
          fin = uN(b, p, l);
          break;
        case K_START_MS:
          start = uN(b, p, l) / 1000;
          break;
        case K_END_MS:
          fin = uN(b, p, l) / 1000;
          break;
        case K_START_NTP:
          start = u32(b, p) - NTP_UNIX_OFFSET + u32(b, p + 4) / 4294967296;
          break;
        case K_END_NTP:
          fin = u32(b, p) - NTP_UNIX_OFFSET + u32(b, p + 4) / 4294967296;
          break;
        case K_START_DUS:
          start = this.hdrSecs - uN(b, p, l) / 1e6;
          break;
        case K_END_DUS:
          fin = this.hdrSecs - uN(b, p, l) / 1e6;
          break;
        case K_INIT_MS:
          initMs = uN(b, p, l);
          break;
        case K_VLAN:
          r['vlan.id'] = uN(b, p, l) & 0xfff;
          break;
        case K_ICMP_TC:
          icmpTC = u16(b, p);
          break;
        case K_ICMP_TYPE:
          icmpT = b[p]!;
          break;
        case K_ICMP_CODE:
          icmpC = b[p]!;
          break;
        case K_SAMPLING:
          sampling = uN(b, p, l);
          break;
      }
      p += l;
    }
    if (t.options) {
      if (initMs >= 0) s.initTimeMs = initMs;
      if (sampling >= 0) s.sampling = sampling;
      return p;
    }
    if (proto >= 0) {
      r['ip.proto'] = proto;
      if (icmpTC < 0 && (icmpT >= 0 || icmpC >= 0)) icmpTC = (Math.max(icmpT, 0) << 8) | Math.max(icmpC, 0);
      this.setPorts(proto, sport, dport, icmpTC);
    }
    if (proto !== 6 && proto >= 0) r['tcp.flags'] = null;
    r['flow.bytes'] = bytes >= 0 ? bytes : bytesAlt >= 0 ? bytesAlt : null;
    r['flow.packets'] = pkts >= 0 ? pkts : pktsAlt >= 0 ? pktsAlt : null;
    if (start < 0 && startUp >= 0) start = this.upTime(startUp, initMs, s);
    if (fin < 0 && endUp >= 0) fin = this.upTime(endUp, initMs, s);
    r['flow.start'] = start >= 0 ? start : null;
    r['flow.end'] = fin >= 0 ? fin : null;
    const smp = sampling >= 0 ? sampling : s.sampling;
    r['flow.sampling'] = smp > 0 ? smp : null;
    return p;
  }

  /** Absolute seconds of a sysUpTime-relative millisecond stamp, or -1 when it cannot be placed. */
  private upTime(ms: number, initMs: number, s: Session): number {
    if (!this.isIpfix) {
      // v9: relative to the header's sysUptime at export time (unix_secs)
      return this.hdrSecs + this.hdrNsecs / 1e9 - ((this.hdrUptime - ms) | 0) / 1000;
    }
    // IPFIX: relative to systemInitTimeMilliseconds (record or options data). The uptime is
    // an unsigned32 that wraps every 2^32 ms (49.7 days): take the instance nearest to the
    // export time.
    const init = initMs >= 0 ? initMs : s.initTimeMs;
    if (init < 0) return -1;
    let t = init + ms;
    t += Math.round((this.hdrSecs * 1000 - t) / UPTIME_WRAP_MS) * UPTIME_WRAP_MS;
    return t / 1000;
  }
}
