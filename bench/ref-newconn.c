/*
 * ref-newconn: the tcp-new-conn task written as a plain libpcap loop in C, the yardstick of
 * `npm run bench` (bench/newconn.ts). It answers "how fast does a straightforward C program do
 * the same job on the same file?", and its output is what intstream's must equal.
 *
 *   build:  cc -O2 -o ref-newconn ref-newconn.c -lpcap        (Debian: libpcap-dev)
 *   usage:  ref-newconn FILE [window_seconds=10] [threshold=100]
 *
 * The job, as `intstream run tcp-new-conn --source pcap:FILE --window W -p threshold=T`:
 *   - every packet whose innermost TCP header has SYN set and ACK clear is counted under the
 *     destination address of the IP header that carries that TCP header;
 *   - counts are kept per tumbling event-time window of W seconds aligned to the Unix epoch:
 *     start = floor(ts / W) * W, end = start + W, start inclusive, end exclusive;
 *   - the clock is the largest timestamp read so far (every record moves it, SYN or not); a
 *     window closes when the clock reaches its end, and the rest at end of file. A packet whose
 *     window had already closed when it was read is late: left out, as intstream does with its
 *     default lateness of 0 for files;
 *   - when a window closes, every address counted more than T times is printed as one JSON line,
 *     {"task":"tcp-new-conn","window":{"start":S,"end":E},"key":"ADDR","value":N}, addresses in
 *     string order within the window and windows in time order (intstream's order). ADDR is an
 *     IPv4 dotted quad or an RFC 5952 IPv6 text (IPv4-mapped addresses as ::ffff:a.b.c.d).
 *
 * Headers walked, following intstream's decoder (src/decode/decoder.ts) so that both programs
 * agree on real captures, not only on the generated benchmark file (plain Ethernet, one 802.1Q
 * tag on a tenth of it, IPv4 and IPv6, TCP, UDP, ICMP):
 *   link types Ethernet, Linux SLL and SLL2, raw IP, IPv4, IPv6, BSD loopback (NULL/LOOP);
 *   any number of 802.1Q/802.1ad tags; MPLS label stacks (IPv4, IPv6 or pseudowire Ethernet
 *   below); IPv4 (only the first fragment has a TCP header); IPv6 with its extension headers
 *   (hop-by-hop, routing, destination options, mobility, HIP, shim6, fragment, AH);
 *   tunnels, up to 8 deep: GRE (IP, MPLS, transparent Ethernet, Aruba 802.11), ERSPAN I/II/III,
 *   VXLAN (UDP 4789/8472), Geneve (UDP 6081), IP-in-IP and IPv6-in-IP.
 *   A header cut short by the capture or contradicting itself ends the walk without a count
 *   (of TCP only the 20 fixed bytes are needed: options cut by the snap length still count).
 *   Not done (intstream does them only when asked for with source options): INT reports.
 *   libpcap reads a pcapng file whose interfaces differ in link type only up to the first such
 *   interface (it stops with an error, reported on stderr); intstream reads all of it.
 *
 * Timestamps are read at microsecond resolution (pcap_open_offline). With a whole number of
 * seconds as W, windows depend on the seconds alone and are computed with integers: exact.
 * A fractional W (0.5) is computed in doubles as intstream does, and its start/end printed as
 * JavaScript prints numbers; there a nanosecond file's sub-microsecond digits are not seen.
 *
 * Memory: one open-addressing hash table (linear probing) of addresses, doubled when half full,
 * cleared at each window's end; nothing is allocated per packet.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off") /* t = sec + usec * 1e-6 rounded as in JavaScript */
#endif

/* floor() and the largest double below x > 0, without libm (the build links libpcap alone).
 * floor_d is exact for |x| < 2^63, far beyond any timestamp / window. */
static double floor_d(double x) {
  double i = (double)(long long)x;
  return i > x ? i - 1 : i;
}

static double below(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  bits--;
  memcpy(&x, &bits, sizeof x);
  return x;
}

/* ---- counting table -------------------------------------------------------------------- */

struct entry {
  uint8_t addr[16]; /* IPv4: first 4 bytes */
  uint32_t count;
  uint8_t family;   /* 0 = empty, 4, 6 */
};

static struct entry *slots;
static uint32_t mask;      /* capacity - 1, capacity a power of two */
static uint32_t *occupied; /* indices of the filled slots, to clear and list a window quickly */
static uint32_t filled;

/* MurmurHash3's finalizer over the address words: every input bit moves the low bits. */
static uint32_t hash_addr(const uint8_t *a, int family) {
  uint32_t w[4], h;
  if (family == 4) {
    memcpy(w, a, 4);
    h = w[0];
  } else {
    memcpy(w, a, 16);
    h = w[0] ^ w[1] * 0x9e3779b1u ^ w[2] * 0x85ebca6bu ^ w[3] * 0xc2b2ae35u;
  }
  h ^= h >> 16; h *= 0x85ebca6bu;
  h ^= h >> 13; h *= 0xc2b2ae35u;
  return h ^ (h >> 16);
}

static void table_alloc(uint32_t capacity) {
  slots = calloc(capacity, sizeof *slots);
  occupied = malloc((capacity / 2 + 1) * sizeof *occupied);
  if (!slots || !occupied) { fprintf(stderr, "ref-newconn: out of memory\n"); exit(1); }
  mask = capacity - 1;
  filled = 0;
}

static uint32_t probe(const uint8_t *a, int family) {
  size_t n = family == 4 ? 4 : 16;
  uint32_t i = hash_addr(a, family) & mask;
  while (slots[i].family != 0 && (slots[i].family != family || memcmp(slots[i].addr, a, n) != 0))
    i = (i + 1) & mask;
  return i;
}

/* Doubles the table, keeping its entries (rare: only when a window sees many new addresses). */
static void table_grow(void) {
  struct entry *old = slots;
  uint32_t *old_list = occupied, old_filled = filled;
  table_alloc((mask + 1) * 2);
  for (uint32_t k = 0; k < old_filled; k++) {
    const struct entry *e = &old[old_list[k]];
    uint32_t i = probe(e->addr, e->family);
    slots[i] = *e;
    occupied[filled++] = i;
  }
  free(old);
  free(old_list);
}

static void count_syn(const uint8_t *addr, int family) {
  uint32_t i = probe(addr, family);
  if (slots[i].family == 0) {
    if (filled + 1 > (mask + 1) / 2) { table_grow(); i = probe(addr, family); }
    memset(slots[i].addr, 0, sizeof slots[i].addr);
    memcpy(slots[i].addr, addr, family == 4 ? 4 : 16);
    slots[i].family = (uint8_t)family;
    slots[i].count = 0;
    occupied[filled++] = i;
  }
  slots[i].count++;
}

/* ---- text of addresses and numbers, as intstream prints them ---------------------------- */

static void ipv4_text(const uint8_t *a, char *out) {
  sprintf(out, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

/* RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero groups
 * (the first such run on a tie) becomes "::"; IPv4-mapped addresses end in a dotted quad.
 * glibc's inet_ntop would also print IPv4-compatible ::a.b.c.d, which intstream does not. */
static void ipv6_text(const uint8_t *a, char *out) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(a, mapped, 12) == 0) {
    strcpy(out, "::ffff:");
    ipv4_text(a + 12, out + 7);
    return;
  }
  unsigned g[8];
  for (int i = 0; i < 8; i++) g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
  int run_at = -1, run_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) { i++; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) j++;
    if (j - i > run_len) { run_at = i; run_len = j - i; }
    i = j;
  }
  char *p = out;
  for (int i = 0; i < 8; i++) {
    if (i == run_at) {
      p += sprintf(p, "::");
      i += run_len - 1;
      continue;
    }
    if (i > 0 && i != run_at + run_len) *p++ = ':';
    p += sprintf(p, "%x", g[i]);
  }
  *p = 0;
}

/* A double as JavaScript's String(x) writes it: the shortest digits that read back as x, in
 * plain notation from 1e-7 up to 1e21, exponent notation outside. Used for fractional windows. */
static void js_number(double x, char *out) {
  if (x == 0) { strcpy(out, "0"); return; }
  if (x > -9e18 && x < 9e18 && x == floor_d(x)) { sprintf(out, "%.0f", x); return; }
  char sci[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(sci, sizeof sci, "%.*e", prec - 1, x);
    if (strtod(sci, NULL) == x) break;
  }
  /* sci is [-]d[.ddd]e[+-]XX: collect the digits and the exponent */
  char digits[24];
  int nd = 0, neg = sci[0] == '-';
  const char *s = sci + neg;
  for (; *s != 'e'; s++) if (*s != '.') digits[nd++] = *s;
  int exp10 = atoi(s + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  char *p = out;
  if (neg) *p++ = '-';
  if (exp10 >= 21 || exp10 < -7) {
    *p++ = digits[0];
    if (nd > 1) { *p++ = '.'; memcpy(p, digits + 1, nd - 1); p += nd - 1; }
    sprintf(p, "e%c%d", exp10 < 0 ? '-' : '+', abs(exp10));
  } else if (exp10 < 0) {
    p += sprintf(p, "0.");
    for (int i = -1; i > exp10; i--) *p++ = '0';
    memcpy(p, digits, nd); p[nd] = 0;
  } else {
    for (int i = 0; i <= exp10 || i < nd; i++) {
      if (i == exp10 + 1) *p++ = '.';
      *p++ = i < nd ? digits[i] : '0';
    }
    *p = 0;
  }
}

/* ---- closing a window ------------------------------------------------------------------ */

struct result { char key[48]; uint32_t value; };
static struct result *results;
static size_t results_cap;
static double threshold;

static int by_key(const void *a, const void *b) {
  return strcmp(((const struct result *)a)->key, ((const struct result *)b)->key);
}

/* Prints the window's addresses above the threshold and empties the table. */
static void close_window(const char *start_text, const char *end_text) {
  size_t n = 0;
  for (uint32_t k = 0; k < filled; k++) {
    struct entry *e = &slots[occupied[k]];
    if ((double)e->count > threshold) {
      if (n == results_cap) {
        results_cap = results_cap ? results_cap * 2 : 256;
        results = realloc(results, results_cap * sizeof *results);
        if (!results) { fprintf(stderr, "ref-newconn: out of memory\n"); exit(1); }
      }
      if (e->family == 4) ipv4_text(e->addr, results[n].key);
      else ipv6_text(e->addr, results[n].key);
      results[n++].value = e->count;
    }
    e->family = 0;
  }
  filled = 0;
  qsort(results, n, sizeof *results, by_key);
  for (size_t i = 0; i < n; i++)
    printf("{\"task\":\"tcp-new-conn\",\"window\":{\"start\":%s,\"end\":%s},\"key\":\"%s\",\"value\":%u}\n",
           start_text, end_text, results[i].key, results[i].value);
}

/* ---- header walk ----------------------------------------------------------------------- */

/* What comes next in the walk: an EtherType (0x0800 IPv4, 0x86dd IPv6, VLAN, MPLS), or one of
 * these pseudo-types above the 16-bit range. */
enum { STOP = -1, NEXT_ETHERNET = 0x10000, NEXT_80211, NEXT_IP_BY_VERSION };
#define MAX_TUNNELS 8
#define MAX_MPLS 16

static inline unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The link-layer header of a record of the given DLT: sets *at past it, returns what follows. */
static int link_layer(int dlt, const uint8_t *b, long len, long *at) {
  *at = 0;
  unsigned hatype, proto;
  switch (dlt) {
  case 1: return NEXT_ETHERNET;                            /* DLT_EN10MB */
  case 12: case 14: case 101: return NEXT_IP_BY_VERSION;   /* raw IP (12 is Linux's DLT_RAW) */
  case 228: return 0x0800;                                 /* DLT_IPV4 */
  case 229: return 0x86dd;                                 /* DLT_IPV6 */
  case 113:                                                /* DLT_LINUX_SLL: protocol at 14 */
    if (len < 16) return STOP;
    hatype = be16(b + 2); proto = be16(b + 14); *at = 16;
    break;
  case 276:                                                /* DLT_LINUX_SLL2: protocol at 0 */
    if (len < 20) return STOP;
    hatype = be16(b + 8); proto = be16(b); *at = 20;
    break;
  case 0: case 108: {                                      /* DLT_NULL, DLT_LOOP: AF_ value */
    if (len < 4) return STOP;
    uint32_t family = be32(b);                             /* LOOP: network order */
    if (dlt == 0 && family >= 256) family = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
    *at = 4;
    if (family == 2) return 0x0800;
    if (family == 10 || family == 24 || family == 28 || family == 30) return 0x86dd; /* AF_INET6 by OS */
    return STOP;
  }
  default: return STOP;
  }
  /* SLL: ARPHRD_IPGRE carries GRE, protocols 1 and 4 are 802.3 / 802.2 frames: no IP here */
  if (hatype == 778 || proto == 1 || proto == 4) return STOP;
  return (int)proto;
}

/* What the transport header at b[at] leads to, for an IP header whose protocol is `proto`: a
 * TCP header ends the walk (STOP) with its flags in *flags; a tunnel continues it at *next_at
 * with the type returned. */
static int transport(const uint8_t *b, long len, long at, int proto, int *tunnels, long *next_at, int *flags) {
  if (proto == 6) {                                        /* TCP */
    if (len - at < 20 || (b[at + 12] >> 4) < 5) return STOP;
    *flags = b[at + 13];
    return STOP;
  }
  if (proto == 17) {                                       /* UDP: VXLAN and Geneve by port */
    if (len - at < 8) return STOP;
    unsigned sport = be16(b + at), dport = be16(b + at + 2);
    long h = at + 8;
    if (dport == 4789 || dport == 8472 || sport == 4789) { /* VXLAN: flags(1, I=0x08) ... VNI */
      if (len - h < 8 || !(b[h] & 0x08) || ++*tunnels > MAX_TUNNELS) return STOP;
      *next_at = h + 8;
      return NEXT_ETHERNET;
    }
    if (dport == 6081 || sport == 6081) {                  /* Geneve: ver(2) optlen(6) ... */
      if (len - h < 8 || (b[h] >> 6) != 0 || ++*tunnels > MAX_TUNNELS) return STOP;
      long hl = 8 + (b[h] & 0x3f) * 4;
      unsigned inner = be16(b + h + 2);
      if (len - h < hl) return STOP;
      *next_at = h + hl;
      if (inner == 0x6558) return NEXT_ETHERNET;
      return inner == 0x0800 || inner == 0x86dd ? (int)inner : STOP;
    }
    return STOP;
  }
  if (proto == 47) {                                       /* GRE (RFC 2784/2890) */
    if (len - at < 4) return STOP;
    unsigned fl = be16(b + at), inner = be16(b + at + 2);
    if (fl & 7) return STOP;                               /* version 1 = PPTP */
    long h = at + 4 + (fl & 0xc000 ? 4 : 0) + (fl & 0x2000 ? 4 : 0) + (fl & 0x1000 ? 4 : 0);
    if (h > len || ++*tunnels > MAX_TUNNELS) return STOP;
    if (inner == 0x88be && !(fl & 0x1000)) { *next_at = h; return NEXT_ETHERNET; } /* ERSPAN I */
    if (inner == 0x88be) {                                 /* ERSPAN II: 8-byte header */
      if (len - h < 8 || (b[h] >> 4) != 1) return STOP;
      *next_at = h + 8;
      return NEXT_ETHERNET;
    }
    if (inner == 0x22eb) {                                 /* ERSPAN III: 12 (+8) bytes */
      if (len - h < 12 || (b[h] >> 4) != 2) return STOP;
      unsigned w = be16(b + h + 10), frame_type = (w >> 10) & 0x1f;
      *next_at = h + 12 + (w & 1 ? 8 : 0);
      if (*next_at > len) return STOP;
      return frame_type == 0 ? NEXT_ETHERNET : frame_type == 2 ? NEXT_IP_BY_VERSION : STOP;
    }
    *next_at = h;
    if (inner == 0x6558) return NEXT_ETHERNET;             /* transparent Ethernet bridging */
    if (inner == 0x8200 || inner == 0x8210) return NEXT_80211; /* Aruba */
    return inner == 0x0800 || inner == 0x86dd || inner == 0x8847 ? (int)inner : STOP;
  }
  if (proto == 4 || proto == 41) {                         /* IPv4 / IPv6 in IP */
    if (++*tunnels > MAX_TUNNELS) return STOP;
    *next_at = at;
    return proto == 4 ? 0x0800 : 0x86dd;
  }
  return STOP;
}

/* IPv6 extension headers of length (b[1] + 1) * 8 (RFC 8200, RFC 7045). */
static int ipv6_generic_ext(int nh) {
  return nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140 || nh == 253 || nh == 254;
}

/* Walks one record. Returns 4 or 6 and points *dst at the destination address when the record
 * holds a TCP header with SYN set and ACK clear; 0 otherwise. */
static int syn_destination(int dlt, const uint8_t *b, long len, const uint8_t **dst) {
  long at, next_at = 0;
  int next = link_layer(dlt, b, len, &at);
  int tunnels = 0, labels = 0, flags = -1;
  for (;;) {
    switch (next) {
    case NEXT_ETHERNET:                                    /* dst(6) src(6) type(2) */
      if (len - at < 14) return 0;
      next = (int)be16(b + at + 12);
      if (next < 0x0600) return 0;                         /* 802.3 length: LLC, no IP */
      at += 14;
      continue;
    case 0x8100: case 0x88a8: case 0x9100:                 /* VLAN tag: TCI(2) type(2) */
      if (len - at < 4) return 0;
      next = (int)be16(b + at + 2);
      at += 4;
      continue;
    case 0x8847: case 0x8848:                              /* MPLS: label(20) tc(3) S(1) ttl(8) */
      for (;;) {
        if (len - at < 4) return 0;
        labels++;
        int bottom = b[at + 2] & 1;
        at += 4;
        if (bottom) break;
        if (labels > MAX_MPLS) return 0;
      }
      if (len - at < 1) return 0;
      switch (b[at] >> 4) {
      case 4: next = 0x0800; continue;
      case 6: next = 0x86dd; continue;
      case 0: at += 4; next = NEXT_ETHERNET; continue;     /* pseudowire control word */
      default: return 0;
      }
    case NEXT_IP_BY_VERSION:
      if (len - at < 1) return 0;
      if (b[at] >> 4 == 4) next = 0x0800;
      else if (b[at] >> 4 == 6) next = 0x86dd;
      else return 0;
      continue;
    case 0x0800: {                                         /* IPv4 (RFC 791) */
      if (len - at < 20 || b[at] >> 4 != 4) return 0;
      long hl = (b[at] & 15) * 4;
      if (hl < 20 || be16(b + at + 2) < hl || len - at < hl) return 0;
      if (be16(b + at + 6) & 0x1fff) return 0;             /* a later fragment: no TCP header */
      *dst = b + at + 16;
      next = transport(b, len, at + hl, b[at + 9], &tunnels, &next_at, &flags);
      if (next == STOP) return flags >= 0 && (flags & 0x12) == 0x02 ? 4 : 0;
      at = next_at;
      continue;
    }
    case 0x86dd: {                                         /* IPv6 (RFC 8200) */
      if (len - at < 40 || b[at] >> 4 != 6) return 0;
      int nh = b[at + 6], later_fragment = 0;
      long x = at + 40;
      for (;;) {
        if (ipv6_generic_ext(nh)) {
          if (len - x < 8 || len - x < (b[x + 1] + 1) * 8) return 0;
          nh = b[x]; x += (b[x + 1] + 1) * 8;
        } else if (nh == 44) {                             /* fragment header */
          if (len - x < 8) return 0;
          later_fragment = (be16(b + x + 2) & 0xfff8) != 0;
          nh = b[x]; x += 8;
        } else if (nh == 51) {                             /* AH: (len + 2) * 4 bytes */
          if (len - x < 8 || len - x < (b[x + 1] + 2) * 4) return 0;
          nh = b[x]; x += (b[x + 1] + 2) * 4;
        } else break;
      }
      if (later_fragment || nh == 59) return 0;
      *dst = b + at + 24;
      next = transport(b, len, x, nh, &tunnels, &next_at, &flags);
      if (next == STOP) return flags >= 0 && (flags & 0x12) == 0x02 ? 6 : 0;
      at = next_at;
      continue;
    }
    case NEXT_80211: {                                     /* 802.11 data frame + LLC/SNAP */
      if (len - at < 24) return 0;
      unsigned fc0 = b[at], fc1 = b[at + 1];
      if (((fc0 >> 2) & 3) != 2) return 0;                 /* not a data frame */
      long hl = 24 + ((fc1 & 3) == 3 ? 6 : 0) + (fc0 & 0x80 ? 2 : 0);
      if (len - at < hl || (fc1 & 0x40)) return 0;         /* cut, or encrypted */
      long llc = at + hl;
      if (len - llc < 8 || b[llc] != 0xaa || b[llc + 1] != 0xaa || b[llc + 2] != 0x03) return 0;
      next = (int)be16(b + llc + 6);
      at = llc + 8;
      continue;
    }
    default:
      return 0;                                            /* ARP, LLDP, ...: no IP */
    }
  }
}

/* ---- main loop ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: ref-newconn FILE [window_seconds=10] [threshold=100]\n");
    return 2;
  }
  char *rest;
  double window = argc > 2 ? strtod(argv[2], &rest) : 10;
  if (argc > 2 && (*rest || !(window > 0))) { fprintf(stderr, "ref-newconn: bad window '%s'\n", argv[2]); return 2; }
  threshold = argc > 3 ? strtod(argv[3], &rest) : 100;
  if (argc > 3 && (*rest || threshold != threshold)) { fprintf(stderr, "ref-newconn: bad threshold '%s'\n", argv[3]); return 2; }
  /* whole seconds: integer arithmetic on the timestamps' seconds, exact */
  int whole = window < 1e15 && window == floor_d(window);
  long long wsec = whole ? (long long)window : 0;

  char err[PCAP_ERRBUF_SIZE];
  pcap_t *pcap = pcap_open_offline(argv[1], err);
  if (!pcap) { fprintf(stderr, "ref-newconn: %s\n", err); return 1; }
  int dlt = pcap_datalink(pcap);
  table_alloc(1u << 12);
  static char outbuf[1 << 16];
  setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

  /* the open window: [open_start, open_end); none before the first record */
  int open = 0;
  long long open_start = 0, open_end = 0, max_sec = 0;
  double open_start_d = 0, max_t = 0;
  char start_text[40], end_text[40];
  unsigned long long records = 0, syns = 0, late = 0;

  struct pcap_pkthdr *h;
  const u_char *data;
  int rc;
  while ((rc = pcap_next_ex(pcap, &h, &data)) == 1) {
    records++;
    /* a fraction of a second that is not below one second: intstream skips the record
     * (invalid_timestamp) without moving its clock; libpcap passes it on */
    if (h->ts.tv_usec >= 1000000) continue;
    if (whole) {
      long long sec = h->ts.tv_sec;
      if (!open || sec > max_sec) max_sec = sec;
      if (!open || sec >= open_end) {                      /* a later window: close the open one */
        long long start = sec / wsec * wsec;
        if (sec < 0 && start != sec) start -= wsec;        /* floor for times before 1970 */
        if (open) close_window(start_text, end_text);
        open = 1; open_start = start; open_end = start + wsec;
        sprintf(start_text, "%lld", open_start);
        sprintf(end_text, "%lld", open_end);
      } else if (sec < open_start) {                       /* its window has closed */
        const uint8_t *dst;
        if (syn_destination(dlt, data, h->caplen, &dst)) late++;
        continue;
      }
    } else {
      double sec = (double)h->ts.tv_sec, t = sec + h->ts.tv_usec * 1e-6;
      if (t >= sec + 1) t = below(sec + 1);         /* stays within its second */
      double start = floor_d(t / window) * window;
      if (!open || t > max_t) max_t = t;
      if (start + window <= max_t) {                       /* its window has closed */
        const uint8_t *dst;
        if (syn_destination(dlt, data, h->caplen, &dst)) late++;
        continue;
      }
      if (!open || start != open_start_d) {
        if (open) close_window(start_text, end_text);
        open = 1; open_start_d = start;
        js_number(start, start_text);
        js_number(start + window, end_text);
      }
    }
    const uint8_t *dst;
    int family = syn_destination(dlt, data, h->caplen, &dst);
    if (family) { syns++; count_syn(dst, family); }
  }
  if (rc == PCAP_ERROR) fprintf(stderr, "ref-newconn: %s: %s (results up to there)\n", argv[1], pcap_geterr(pcap));
  if (open) close_window(start_text, end_text);
  fflush(stdout);
  fprintf(stderr, "ref-newconn: %llu records, %llu SYN without ACK, %llu late\n", records, syns, late);
  pcap_close(pcap);
  return 0;
}
