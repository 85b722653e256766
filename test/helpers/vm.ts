// A kernel-matrix guest: one of Debian's kernels (scripts/kernels.sh unpacks them) booted
// under qemu with this machine's root shared read-only, running one shell script.
// KVM when the machine offers hardware virtualization, TCG (emulation, about 50 times slower)
// otherwise; one vCPU under TCG (with two, guests panicked at boot).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** this checkout: the guest mounts it at the same path */
export const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KERNELS_DIR = process.env.L7BPF_KERNELS ?? '/var/cache/l7bpf/kernels';
/** the matrix: Debian 12's kernel and its backport of Debian 13's (scripts/kernels.sh) */
export const MATRIX = ['6.1', '6.12'] as const;

export interface GuestKernel {
  readonly name: string;
  /** the Debian package's kernel release, e.g. 6.1.0-57-amd64 */
  readonly release: string;
  readonly vmlinuz: string;
  readonly initramfs: string;
}

export function guestKernel(name: string): GuestKernel | null {
  const dir = join(KERNELS_DIR, name);
  const initramfs = join(dir, 'initramfs.gz');
  if (!existsSync(initramfs)) return null;
  return { name, release: readFileSync(join(dir, 'release'), 'utf8').trim(), vmlinuz: join(dir, 'vmlinuz'), initramfs };
}

/** Why guests cannot boot here, or false. */
export function guestSkip(): string | false {
  if (process.getuid?.() !== 0) return 'kernel matrix guests need root';
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) return 'qemu-system-x86_64 not found (bash scripts/kernels.sh)';
  const missing = MATRIX.filter((k) => !guestKernel(k));
  if (missing.length) return `kernels ${missing.join(', ')} not in ${KERNELS_DIR} (bash scripts/kernels.sh)`;
  return false;
}

const hasKvm = (): boolean => existsSync('/dev/kvm') && /\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

export interface GuestRun {
  /** the script's exit status; null when the guest never wrote one (panic, timeout) */
  readonly status: number | null;
  /** the script's stdout and stderr */
  readonly out: string;
  /** the guest kernel's console (boot messages, oopses, verifier splats) */
  readonly console: string;
  readonly ms: number;
}

/** Boots `k`, runs `script` (sh, cwd = a scratch directory the host can read) as root. */
export async function runGuest(k: GuestKernel, script: string, timeoutMs: number, env: Record<string, string> = {}): Promise<GuestRun> {
  const job = mkdtempSync(join(tmpdir(), 'l7bpf-guest-'));
  const exports = Object.entries(env).map(([n, v]) => `export ${n}='${v.replace(/'/g, `'\\''`)}'\n`).join('');
  writeFileSync(join(job, 'run.sh'), `set -e\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root\n${exports}${script}\n`);
  const kvm = hasKvm();
  const args = [
    '-machine', `q35,accel=${kvm ? 'kvm' : 'tcg'}`, '-cpu', kvm ? 'host' : 'max', '-smp', '1', '-m', '3072',
    '-nographic', '-no-reboot', '-nic', 'none', '-kernel', k.vmlinuz, '-initrd', k.initramfs,
    '-append', `console=ttyS0 quiet panic=-1 l7src=${CHECKOUT}`,
    '-fsdev', 'local,id=root,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=root,mount_tag=root',
    '-fsdev', `local,id=job,path=${job},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=job,mount_tag=job',
    '-fsdev', `local,id=src,path=${CHECKOUT},security_model=none,readonly=on`,
    '-device', 'virtio-9p-pci,fsdev=src,mount_tag=src',
  ];
  const t0 = Date.now();
  try {
    const console = await new Promise<string>((resolveRun, reject) => {
      // niced: the guests take the CPU the host's own tests leave (they run side by side)
      const child = spawn('nice', ['-n', '10', 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', () => {
        clearTimeout(timer);
        resolveRun(text);
      });
    });
    const read = (f: string): string | null => (existsSync(join(job, f)) ? readFileSync(join(job, f), 'utf8') : null);
    const rc = read('rc');
    return { status: rc === null ? null : Number(rc.trim()), out: read('out.log') ?? '', console, ms: Date.now() - t0 };
  } finally {
    rmSync(job, { recursive: true, force: true });
  }
}
