package fsmeta

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// capNames are the Linux capabilities by number, as libcap names them.
var capNames = [...]string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
	"cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner", "cap_sys_module",
	"cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot",
	"cap_sys_nice", "cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
	"cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin",
	"cap_syslog", "cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
}

func capName(i int) string {
	if i < len(capNames) {
		return capNames[i]
	}
	return fmt.Sprintf("cap_%d", i)
}

// The revisions of struct vfs_cap_data (linux/capability.h).
const (
	vfsCapRevisionMask = 0xff000000
	vfsCapRevision1    = 0x01000000
	vfsCapRevision2    = 0x02000000
	vfsCapRevision3    = 0x03000000
	vfsCapEffective    = 0x000001
)

// CapText decodes a security.capability value (vfs_cap_data revision 1, 2
// or 3) into libcap's text form: capabilities with the same flags grouped,
// "cap_net_raw+ep", "cap_chown,cap_kill+ep cap_net_admin+i"; a revision 3
// value with a namespace root says so ("[rootid 1000]"). A value it cannot
// decode is shown as its size.
func CapText(v string) string {
	b := []byte(v)
	if len(b) < 4 {
		return fmt.Sprintf("(malformed, %d bytes)", len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	var perm, inh uint64
	var rootID uint32
	switch rev := magic & vfsCapRevisionMask; {
	case rev == vfsCapRevision1 && len(b) == 12:
		perm, inh = uint64(binary.LittleEndian.Uint32(b[4:])), uint64(binary.LittleEndian.Uint32(b[8:]))
	case (rev == vfsCapRevision2 && len(b) == 20) || (rev == vfsCapRevision3 && len(b) == 24):
		perm = uint64(binary.LittleEndian.Uint32(b[4:])) | uint64(binary.LittleEndian.Uint32(b[12:]))<<32
		inh = uint64(binary.LittleEndian.Uint32(b[8:])) | uint64(binary.LittleEndian.Uint32(b[16:]))<<32
		if rev == vfsCapRevision3 {
			rootID = binary.LittleEndian.Uint32(b[20:])
		}
	default:
		return fmt.Sprintf("(unknown revision %#x, %d bytes)", magic&vfsCapRevisionMask, len(b))
	}
	eff := magic&vfsCapEffective != 0
	var order []string
	groups := map[string][]string{}
	for i := range 64 {
		p, in := perm&(1<<i) != 0, inh&(1<<i) != 0
		if !p && !in {
			continue
		}
		flags := ""
		if eff {
			flags += "e"
		}
		if in {
			flags += "i"
		}
		if p {
			flags += "p"
		}
		if _, ok := groups[flags]; !ok {
			order = append(order, flags)
		}
		groups[flags] = append(groups[flags], capName(i))
	}
	parts := make([]string, 0, len(order)+1)
	for _, f := range order {
		parts = append(parts, strings.Join(groups[f], ",")+"+"+f)
	}
	if len(parts) == 0 {
		parts = append(parts, "(no capabilities)")
	}
	if rootID != 0 {
		parts = append(parts, fmt.Sprintf("[rootid %d]", rootID))
	}
	return strings.Join(parts, " ")
}
