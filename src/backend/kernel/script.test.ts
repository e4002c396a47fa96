import { describe, expect, it } from 'vitest';
import { encodeScript, encodeStep, fieldBig, fieldNum, formatNumber, parseRunnerOutput, RUNNER_OPS } from './script.js';
import { qemuArgs, resultsByScript } from './qemu.js';

describe('script encoding', () => {
  it('writes numbers as hex, negatives with a sign, booleans as 0/1', () => {
    expect(formatNumber(0)).toBe('0x0');
    expect(formatNumber(1 << 20)).toBe('0x100000');
    expect(formatNumber(-1)).toBe('-0x1');
    expect(formatNumber(0xffff_ffff_ffff_f000n)).toBe('0xfffffffffffff000');
    expect(() => formatNumber(1.5)).toThrow();
    expect(
      encodeStep({ op: 'map_dma', args: { container: 'c', flags: 'READ|WRITE', vaddr: 'buf+0x1000', iova: 0x100000, size: 1n << 20n } }),
    ).toBe('map_dma container=c flags=READ|WRITE vaddr=buf+0x1000 iova=0x100000 size=0x100000');
    expect(encodeStep({ op: 'mmap', args: { as: 'b', size: 4096, touch: false, populate: undefined } })).toBe('mmap as=b size=0x1000 touch=0');
    expect(encodeStep({ op: 'pin', args: { dev: 'd', iova: 0, npage: -1 }, comment: 'E2BIG\nexpected' })).toBe(
      'pin dev=d iova=0x0 npage=-0x1 # E2BIG expected',
    );
  });

  it('rejects what the runner could not read back', () => {
    expect(() => encodeStep({ op: 'nope' as never })).toThrow(/unknown runner op/);
    expect(() => encodeStep({ op: 'mmap', args: { as: 'a b' } })).toThrow(/whitespace/);
    expect(() => encodeStep({ op: 'mmap', args: { as: 'a#b' } })).toThrow();
    expect(() => encodeStep({ op: 'mmap', args: { 'a=b': 1 } })).toThrow(/argument name/);
  });

  it('encodes a script with a header, one line per step', () => {
    const s = encodeScript([{ op: 'container_open', args: { as: 'c' } }, { op: 'reset' }], 'scenario x\nline two');
    expect(s).toBe('# scenario x\n# line two\ncontainer_open as=c\nreset\n');
    expect(RUNNER_OPS).toContain('unmap_mode');
  });
});

const SAMPLE = [
  'noise before',
  '@@VFIOLAB-INIT {"uptime":"2.31","phase":"ready","groups":"2 4 5 vfio "}\r',
  '@@VFIOLAB-BEGIN {"kernel":"6.1.0-56-amd64","scripts":2,"rlimit_memlock":"0x800000","ipc_lock":1,"timeout_ms":20000}\r',
  '@@VFIOLAB-SCRIPT {"script":"/vfiolab/scripts/000.txt","steps":3}',
  '@@VFIOLAB-SCENARIO {"script":"/vfiolab/scripts/000.txt","scenario":0,"first":0,"steps":3}',
  '@@VFIOLAB-STEP {"i":0,"line":1,"op":"map_dma","ret":0,"errno":0,"errname":"","fields":{},"vmlck_kb":1024,"ms":1.4,"klog":[]}',
  '@@VFIOLAB-STEP {"i":1,"line":2,"op":"map_dma","ret":-1,"errno":12,"errname":"ENOMEM","fields":{},"vmlck_kb":2560,"ms":1.1,"klog":["vfio_pin_pages_remote: RLIMIT_MEMLOCK (3145728) exceeded"]}',
  '@@VFIOLAB-STEP {"i":2,"line":3,"op":"bogus","ret":-1,"errno":0,"errname":"","fields":{},"vmlck_kb":0,"ms":0,"klog":[],"error":"unknown op bogus"}',
  '@@VFIOLAB-SCRIPT-END {"script":"/vfiolab/scripts/000.txt","result":"ok","ms":87.0}',
  '@@VFIOLAB-SCRIPT {"script":"/vfiolab/scripts/001.txt","steps":2}',
  '@@VFIOLAB-STEP {"i":0,"line":1,"op":"get_info","ret":0,"errno":0,"errname":"","fields":{"iova_pgsizes":"0xfffffffffffff000","dma_avail":"0xffff","viable":"1"},"vmlck_kb":0,"ms":1,"klog":[]}',
  '@@VFIOLAB-STEP {"i":1,"line":4,"op":"unmap_dma","ret":-1,"errno":0,"errname":"","fields":{},"vmlck_kb":-1,"ms":15000,"hung":true,"klog":["kernel BUG at drivers/vfio/vfio_iommu_type1.c:1481!"]}',
  '@@VFIOLAB-STEP {"i":1,"line":4,"op":"unmap_dma", cut off',
  '@@VFIOLAB-SCRIPT-END {"script":"/vfiolab/scripts/001.txt","result":"hung","ms":15257}',
  '@@VFIOLAB-END {"stuck":1}',
].join('\n');

describe('runner output parsing', () => {
  it('parses steps per script, tolerating \\r, noise and cut-off lines', () => {
    const out = parseRunnerOutput(SAMPLE);
    expect(out.begin?.kernel).toBe('6.1.0-56-amd64');
    expect(out.init).toHaveLength(1);
    expect(out.ended).toBe(true);
    expect(out.stuck).toBe(true);
    expect(out.garbage).toHaveLength(1);
    expect(out.scripts.map((s) => [s.script, s.result, s.steps.length])).toEqual([
      ['/vfiolab/scripts/000.txt', 'ok', 3],
      ['/vfiolab/scripts/001.txt', 'hung', 2],
    ]);
    const [a, b] = resultsByScript(out, 2);
    expect(a?.[0]).toMatchObject({ i: 0, op: 'map_dma', ret: 0, vmlckKb: 1024, klog: [] });
    expect(a?.[1]).toMatchObject({ errno: 12, errname: 'ENOMEM', vmlckKb: 2560 });
    expect(a?.[1]?.klog[0]).toContain('RLIMIT_MEMLOCK (3145728)');
    expect(a?.[2]?.error).toBe('unknown op bogus');
    expect(b?.[1]).toMatchObject({ hung: true, vmlckKb: -1 });
    expect(fieldBig(b![0]!.fields, 'iova_pgsizes')).toBe(0xfffffffffffff000n);
    expect(fieldNum(b![0]!.fields, 'dma_avail')).toBe(65535);
    expect(fieldNum(b![0]!.fields, 'viable')).toBe(1);
    expect(() => fieldNum(b![0]!.fields, 'iova_pgsizes')).toThrow(/fieldBig/);
    expect(fieldNum(b![0]!.fields, 'missing')).toBeUndefined();
  });

  it('keeps partial output of a run that was cut off', () => {
    const cut = SAMPLE.split('\n').slice(0, 7).join('\n');
    const out = parseRunnerOutput(cut);
    expect(out.ended).toBe(false);
    expect(out.scripts[0]?.result).toBe('incomplete');
    expect(resultsByScript(out, 3).map((r) => r.length)).toEqual([2, 0, 0]);
  });

  it('boots with the measured QEMU setup (TCG, VT-d, edu, two serial ports, no iommu=pt)', () => {
    const a = qemuArgs('/k/vmlinuz', '/k/initrd', '/t/c.log', '/t/r.log');
    const s = a.join(' ');
    expect(s).toContain('-accel tcg');
    expect(s).toContain('intel-iommu,intremap=on,caching-mode=on');
    expect(s).toContain('-device edu');
    expect(s).toContain('intel_iommu=on');
    expect(s).toContain('no_timer_check');
    expect(s).not.toContain('iommu=pt');
    expect(a.filter((x) => x.startsWith('file:'))).toEqual(['file:/t/c.log', 'file:/t/r.log']);
  });
});
