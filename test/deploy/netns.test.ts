// Pins in the host's bpffs from a private mount namespace (ip netns exec): which pin roots are
// reached through /proc/<pid>/root, and how a recorded network namespace is named.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { currentNetns, describeNetns, hostPinRoot, netnsPath } from '../../src/deploy/netns.ts';

describe('host pin root', () => {
  const away = { path: '/proc/42/root/sys/fs/bpf', private: false };
  it('a root under /sys/fs/bpf is reached through the other mount namespace', () => {
    assert.equal(hostPinRoot('/sys/fs/bpf/l7bpf', away), '/proc/42/root/sys/fs/bpf/l7bpf');
    assert.equal(hostPinRoot('/sys/fs/bpf', away), '/proc/42/root/sys/fs/bpf');
  });
  it('other roots (tests, a bpffs elsewhere) and the same namespace are left as they are', () => {
    assert.equal(hostPinRoot('/tmp/pins', away), '/tmp/pins');
    assert.equal(hostPinRoot('/sys/fs/bpfx/a', away), '/sys/fs/bpfx/a');
    assert.equal(hostPinRoot('/sys/fs/bpf/l7bpf', { path: '/sys/fs/bpf', private: false }), '/sys/fs/bpf/l7bpf');
  });
});

describe('network namespace of a deployment', () => {
  it('this process: its inode, found again by netnsPath', () => {
    const here = currentNetns();
    assert.ok(here);
    assert.equal(here.inode, statSync('/proc/self/ns/net').ino);
    const path = netnsPath(here);
    assert.ok(path);
    assert.equal(statSync(path).ino, here.inode);
  });
  it('a namespace no process is in and no name holds is gone', () => {
    assert.equal(netnsPath({ inode: 1, name: null }), null);
    assert.equal(describeNetns({ inode: 1, name: null }), '(unnamed) [net:1]');
    assert.equal(describeNetns(undefined), 'unknown (recorded before l7bpf kept it)');
  });
});
