// sFlow version 5 datagram decoder (sflow.org "sFlow Version 5", XDR encoding, big-endian).
//
// Delivered records:
//   - one 'sample' record per flow sample (format 1) or expanded flow sample (format 3), with
//     the fields of its raw packet header (1), sampled IPv4 (3), sampled IPv6 (4) and extended
//     switch (1001) flow records merged in. The header bytes are not copied: their position in
//     the caller's buffer is given so the engine's packet decoder can decode them.
//   - one 'counters' record per counters sample (2) or expanded counters sample (4) that
//     carries generic interface counters (counter record 1).
// Other sample, flow-record and counter-record formats (and any non-zero enterprise) are
// skipped by their length and counted as 'unknown-record'.

import {
  AddrCache,
  newCounters,
  u32,
  u64,
  type FlowCounters,
  type FlowDecoder,
  type FlowStatus,
  type OnFlowRecord,
  type SflowCountersRecord,
  type SflowSampleRecord,
} from './common.ts';

const SFLOW_VERSION = 5;

// sample formats (enterprise 0)
const FLOW_SAMPLE = 1;
const COUNTERS_SAMPLE = 2;
const FLOW_SAMPLE_EXPANDED = 3;
const COUNTERS_SAMPLE_EXPANDED = 4;
// flow record formats (enterprise 0)
const REC_RAW_HEADER = 1;
const REC_SAMPLED_IPV4 = 3;
const REC_SAMPLED_IPV6 = 4;
const REC_EXTENDED_SWITCH = 1001;
// counter record formats (enterprise 0)
const CTR_GENERIC_IF = 1;

const IF_COUNTERS_LEN = 88;

// internal result of one sample: ok / truncated (runs past the datagram) / malformed inside
const S_OK = 0;
const S_MALFORMED = 1;

export interface SflowDecoderOptions {
  /** Slots of the address-text cache (rounded up to a power of two). Default 1024. */
  addrCacheSlots?: number;
}

export class SflowDecoder implements FlowDecoder {
  readonly counters: FlowCounters = newCounters();
  private readonly addrs: AddrCache;
  private readonly sample: SflowSampleRecord;
  private readonly ctrs: SflowCountersRecord;

  constructor(opts: SflowDecoderOptions = {}) {
    this.addrs = new AddrCache(opts.addrCacheSlots ?? 1024);
    this.sample = {
      type: 'sample',
      'flow.format': 'sflow5',
      'flow.exporter': '',
      'sflow.agent': '',
      'sflow.sub_agent': 0,
      'sflow.sequence': 0,
      'sflow.uptime': 0,
      'sflow.sample_sequence': 0,
      'sflow.source_type': 0,
      'sflow.source_index': 0,
      'flow.sampling': 0,
      'sflow.sample_pool': 0,
      'sflow.drops': 0,
      'flow.input': null,
      'flow.output': null,
      'sflow.input_format': 0,
      'sflow.output_format': 0,
      'sflow.input_value': 0,
      'sflow.output_value': 0,
      'sflow.header_protocol': null,
      'sflow.frame_length': null,
      'sflow.stripped': null,
      'sflow.header_offset': null,
      'sflow.header_length': null,
      'flow.packets': 1,
      'flow.bytes': null,
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
      'vlan.id': null,
      'vlan.out': null,
    };
    this.ctrs = {
      type: 'counters',
      'flow.format': 'sflow5',
      'flow.exporter': '',
      'sflow.agent': '',
      'sflow.sub_agent': 0,
      'sflow.sequence': 0,
      'sflow.uptime': 0,
      'sflow.sample_sequence': 0,
      'sflow.source_type': 0,
      'sflow.source_index': 0,
      'if.index': 0,
      'if.type': 0,
      'if.speed': 0,
      'if.direction': 0,
      'if.status': 0,
      'if.in_octets': 0,
      'if.in_ucast': 0,
      'if.in_mcast': 0,
      'if.in_bcast': 0,
      'if.in_discards': 0,
      'if.in_errors': 0,
      'if.in_unknown': 0,
      'if.out_octets': 0,
      'if.out_ucast': 0,
      'if.out_mcast': 0,
      'if.out_bcast': 0,
      'if.out_discards': 0,
      'if.out_errors': 0,
      'if.promisc': 0,
    };
  }

  decode(buf: Uint8Array, off: number, len: number, exporter: string, onRecord: OnFlowRecord): FlowStatus {
    const c = this.counters;
    c.datagrams++;
    if (!(off >= 0) || !(len >= 0) || off + len > buf.length) {
      // a caller error, but still no throw: treat what is claimed beyond the buffer as missing
      if (!(off >= 0) || off > buf.length) off = buf.length;
      len = Math.max(0, Math.min(len | 0, buf.length - off));
    }
    const end = off + len;
    if (len < 4) return this.truncated();
    if (u32(buf, off) !== SFLOW_VERSION) {
      c.skipped['bad-version']++;
      return 'bad-version';
    }
    let p = off + 4;
    if (p + 4 > end) return this.truncated();
    const addrType = u32(buf, p);
    p += 4;
    let agent: string;
    if (addrType === 1) {
      if (p + 4 > end) return this.truncated();
      agent = this.addrs.v4(buf, p);
      p += 4;
    } else if (addrType === 2) {
      if (p + 16 > end) return this.truncated();
      agent = this.addrs.v6(buf, p);
      p += 16;
    } else if (addrType === 0) {
      agent = '';
    } else {
      // unknown address type: the rest of the header cannot be located
      c.skipped.malformed++;
      return 'malformed';
    }
    if (p + 16 > end) return this.truncated();
    const subAgent = u32(buf, p);
    const seq = u32(buf, p + 4);
    const uptime = u32(buf, p + 8);
    const nSamples = u32(buf, p + 12);
    p += 16;

    const s = this.sample;
    s['flow.exporter'] = exporter;
    s['sflow.agent'] = agent;
    s['sflow.sub_agent'] = subAgent;
    s['sflow.sequence'] = seq;
    s['sflow.uptime'] = uptime;
    const k = this.ctrs;
    k['flow.exporter'] = exporter;
    k['sflow.agent'] = agent;
    k['sflow.sub_agent'] = subAgent;
    k['sflow.sequence'] = seq;
    k['sflow.uptime'] = uptime;

    let malformed = false;
    for (let i = 0; i < nSamples; i++) {
      if (p + 8 > end) return this.truncated();
      const fmt = u32(buf, p);
      const slen = u32(buf, p + 4);
      const sp = p + 8;
      if (slen > end - sp) return this.truncated();
      const send = sp + slen;
      p = send;
      if (fmt >>> 12 !== 0) {
        c.skipped['unknown-record']++;
        continue;
      }
      const f = fmt & 0xfff;
      let r: number;
      if (f === FLOW_SAMPLE || f === FLOW_SAMPLE_EXPANDED) {
        r = this.flowSample(buf, sp, send, f === FLOW_SAMPLE_EXPANDED, onRecord);
      } else if (f === COUNTERS_SAMPLE || f === COUNTERS_SAMPLE_EXPANDED) {
        r = this.countersSample(buf, sp, send, f === COUNTERS_SAMPLE_EXPANDED, onRecord);
      } else {
        c.skipped['unknown-record']++;
        continue;
      }
      if (r === S_MALFORMED) malformed = true;
    }
    if (malformed) {
      c.skipped.malformed++;
      return 'malformed';
    }
    return 'ok';
  }

  private truncated(): FlowStatus {
    this.counters.skipped.truncated++;
    return 'truncated';
  }

  private flowSample(b: Uint8Array, p: number, end: number, expanded: boolean, onRecord: OnFlowRecord): number {
    const s = this.sample;
    const c = this.counters;
    const fixed = expanded ? 44 : 32;
    if (p + fixed > end) return S_MALFORMED;
    s['sflow.sample_sequence'] = u32(b, p);
    let inRaw: number;
    let outRaw: number;
    let inFmt: number;
    let outFmt: number;
    let nRec: number;
    if (expanded) {
      s['sflow.source_type'] = u32(b, p + 4);
      s['sflow.source_index'] = u32(b, p + 8);
      s['flow.sampling'] = u32(b, p + 12);
      s['sflow.sample_pool'] = u32(b, p + 16);
      s['sflow.drops'] = u32(b, p + 20);
      inFmt = u32(b, p + 24);
      inRaw = u32(b, p + 28);
      outFmt = u32(b, p + 32);
      outRaw = u32(b, p + 36);
      nRec = u32(b, p + 40);
    } else {
      const src = u32(b, p + 4);
      s['sflow.source_type'] = src >>> 24;
      s['sflow.source_index'] = src & 0xffffff;
      s['flow.sampling'] = u32(b, p + 8);
      s['sflow.sample_pool'] = u32(b, p + 12);
      s['sflow.drops'] = u32(b, p + 16);
      const i = u32(b, p + 20);
      const o = u32(b, p + 24);
      inFmt = i >>> 30;
      inRaw = i & 0x3fffffff;
      outFmt = o >>> 30;
      outRaw = o & 0x3fffffff;
      nRec = u32(b, p + 28);
    }
    s['sflow.input_format'] = inFmt;
    s['sflow.input_value'] = inRaw;
    s['sflow.output_format'] = outFmt;
    s['sflow.output_value'] = outRaw;
    s['flow.input'] = inFmt === 0 ? inRaw : null;
    s['flow.output'] = outFmt === 0 ? outRaw : null;
    s['sflow.header_protocol'] = null;
    s['sflow.frame_length'] = null;
    s['sflow.stripped'] = null;
    s['sflow.header_offset'] = null;
    s['sflow.header_length'] = null;
    s['flow.packets'] = 1;
    s['flow.bytes'] = null;
    s['ip.version'] = null;
    s['ip.src'] = null;
    s['ip.dst'] = null;
    s['ip.proto'] = null;
    s['ip.tos'] = null;
    s['tcp.sport'] = null;
    s['tcp.dport'] = null;
    s['udp.sport'] = null;
    s['udp.dport'] = null;
    s['tcp.flags'] = null;
    s['vlan.id'] = null;
    s['vlan.out'] = null;

    p += fixed;
    for (let i = 0; i < nRec; i++) {
      if (p + 8 > end) return S_MALFORMED;
      const fmt = u32(b, p);
      const rlen = u32(b, p + 4);
      const rp = p + 8;
      if (rlen > end - rp) return S_MALFORMED;
      p = rp + rlen;
      if (fmt >>> 12 !== 0) {
        c.skipped['unknown-record']++;
        continue;
      }
      switch (fmt & 0xfff) {
        case REC_RAW_HEADER: {
          if (rlen < 16) return S_MALFORMED;
          const hlen = u32(b, rp + 12);
          if (hlen > rlen - 16) return S_MALFORMED;
          if (s['sflow.header_offset'] !== null) break; // first header record wins
          s['sflow.header_protocol'] = u32(b, rp);
          const frameLen = u32(b, rp + 4);
          s['sflow.frame_length'] = frameLen;
          s['sflow.stripped'] = u32(b, rp + 8);
          s['sflow.header_offset'] = rp + 16;
          s['sflow.header_length'] = hlen;
          s['flow.bytes'] = frameLen;
          break;
        }
        case REC_SAMPLED_IPV4: {
          if (rlen < 32) return S_MALFORMED;
          s['ip.version'] = 4;
          this.sampledIp(b, rp, rp + 8, rp + 12, rp + 16, false);
          break;
        }
        case REC_SAMPLED_IPV6: {
          if (rlen < 56) return S_MALFORMED;
          s['ip.version'] = 6;
          this.sampledIp(b, rp, rp + 8, rp + 24, rp + 40, true);
          break;
        }
        case REC_EXTENDED_SWITCH: {
          if (rlen < 16) return S_MALFORMED;
          s['vlan.id'] = u32(b, rp);
          s['vlan.out'] = u32(b, rp + 8);
          break;
        }
        default:
          c.skipped['unknown-record']++;
      }
    }
    c.records++;
    onRecord(s);
    return S_OK;
  }

  /** sampled_ipv4 / sampled_ipv6: length, protocol, src, dst, src_port, dst_port, tcp_flags, tos|priority. */
  private sampledIp(b: Uint8Array, rp: number, srcP: number, dstP: number, restP: number, v6: boolean): void {
    const s = this.sample;
    const proto = u32(b, rp + 4);
    s['ip.proto'] = proto;
    s['ip.src'] = v6 ? this.addrs.v6(b, srcP) : this.addrs.v4(b, srcP);
    s['ip.dst'] = v6 ? this.addrs.v6(b, dstP) : this.addrs.v4(b, dstP);
    const sport = u32(b, restP);
    const dport = u32(b, restP + 4);
    if (proto === 6) {
      s['tcp.sport'] = sport;
      s['tcp.dport'] = dport;
      s['tcp.flags'] = u32(b, restP + 8);
    } else if (proto === 17) {
      s['udp.sport'] = sport;
      s['udp.dport'] = dport;
    }
    s['ip.tos'] = u32(b, restP + 12);
    if (s['flow.bytes'] === null) s['flow.bytes'] = u32(b, rp);
  }

  private countersSample(b: Uint8Array, p: number, end: number, expanded: boolean, onRecord: OnFlowRecord): number {
    const k = this.ctrs;
    const c = this.counters;
    const fixed = expanded ? 16 : 12;
    if (p + fixed > end) return S_MALFORMED;
    k['sflow.sample_sequence'] = u32(b, p);
    let nRec: number;
    if (expanded) {
      k['sflow.source_type'] = u32(b, p + 4);
      k['sflow.source_index'] = u32(b, p + 8);
      nRec = u32(b, p + 12);
    } else {
      const src = u32(b, p + 4);
      k['sflow.source_type'] = src >>> 24;
      k['sflow.source_index'] = src & 0xffffff;
      nRec = u32(b, p + 8);
    }
    p += fixed;
    let have = false;
    for (let i = 0; i < nRec; i++) {
      if (p + 8 > end) return S_MALFORMED;
      const fmt = u32(b, p);
      const rlen = u32(b, p + 4);
      const rp = p + 8;
      if (rlen > end - rp) return S_MALFORMED;
      p = rp + rlen;
      if (fmt === CTR_GENERIC_IF && !have) {
        if (rlen < IF_COUNTERS_LEN) return S_MALFORMED;
        have = true;
        k['if.index'] = u32(b, rp);
        k['if.type'] = u32(b, rp + 4);
        k['if.speed'] = u64(b, rp + 8);
        k['if.direction'] = u32(b, rp + 16);
        k['if.status'] = u32(b, rp + 20);
        k['if.in_octets'] = u64(b, rp + 24);
        k['if.in_ucast'] = u32(b, rp + 32);
        k['if.in_mcast'] = u32(b, rp + 36);
        k['if.in_bcast'] = u32(b, rp + 40);
        k['if.in_discards'] = u32(b, rp + 44);
        k['if.in_errors'] = u32(b, rp + 48);
        k['if.in_unknown'] = u32(b, rp + 52);
        k['if.out_octets'] = u64(b, rp + 56);
        k['if.out_ucast'] = u32(b, rp + 64);
        k['if.out_mcast'] = u32(b, rp + 68);
        k['if.out_bcast'] = u32(b, rp + 72);
        k['if.out_discards'] = u32(b, rp + 76);
        k['if.out_errors'] = u32(b, rp + 80);
        k['if.promisc'] = u32(b, rp + 84);
      } else {
        c.skipped['unknown-record']++;
      }
    }
    if (have) {
      c.records++;
      onRecord(k);
    }
    return S_OK;
  }
}
