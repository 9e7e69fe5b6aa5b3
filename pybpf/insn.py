"""BPF instructions: decode/encode 8-byte slots and a compact disassembler for messages."""

from __future__ import annotations

import struct
from collections import namedtuple

INSN_SIZE = 8
_INSN = struct.Struct("<BBhi")

# classes
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
# opcodes we need by value
CALL = 0x85          # JMP | CALL
EXIT = 0x95
LD_IMM64 = 0x18      # LD | IMM | DW
MOV64_IMM = 0xB7
# helper ids of poisoned calls, as libbpf uses them: a CO-RE relocation that failed, a call
# to a __weak kfunc the kernel lacks (the verifier rejects them only where reachable)
POISON_HELPER = 0xBAD2310
POISON_KFUNC = 0xBAD2311

_SIZES = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
_SIZE_BYTES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}
_ALU = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "end"]
_JMP = ["ja", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<="]


class Insn(namedtuple("Insn", "code dst src off imm")):
    """One BPF instruction: opcode, dst/src registers, offset, immediate (all int)."""

    __slots__ = ()

    @property
    def cls(self) -> int:
        return self.code & 0x07

    def encode(self) -> bytes:
        return _INSN.pack(self.code, (self.src << 4) | (self.dst & 0xF), self.off, self.imm)


def decode(buf: bytes | bytearray | memoryview, index: int) -> Insn:
    """Decode instruction ``index`` of ``buf``."""
    code, regs, off, imm = _INSN.unpack_from(buf, index * INSN_SIZE)
    return Insn(code, regs & 0xF, regs >> 4, off, imm)


def encode_into(buf: bytearray, index: int, insn: Insn) -> None:
    _INSN.pack_into(buf, index * INSN_SIZE, insn.code, (insn.src << 4) | (insn.dst & 0xF),
                    insn.off, insn.imm)


def set_imm(buf: bytearray, index: int, imm: int) -> None:
    struct.pack_into("<i", buf, index * INSN_SIZE + 4, _s32(imm))


def set_src(buf: bytearray, index: int, src: int) -> None:
    pos = index * INSN_SIZE + 1
    buf[pos] = (buf[pos] & 0x0F) | (src << 4)


def set_ld_imm64(buf: bytearray, index: int, value: int) -> None:
    """Store a 64-bit immediate across an ld_imm64 pair."""
    set_imm(buf, index, value & 0xFFFFFFFF)
    set_imm(buf, index + 1, (value >> 32) & 0xFFFFFFFF)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def count(buf: bytes | bytearray | memoryview) -> int:
    return len(buf) // INSN_SIZE


def is_ld_imm64(insn: Insn) -> bool:
    return insn.code == LD_IMM64


def is_call(insn: Insn) -> bool:
    return insn.code == CALL


def mem_size(insn: Insn) -> int:
    """Access size in bytes of a LDX/ST/STX instruction."""
    return _SIZE_BYTES[insn.code & 0x18]


def format_insn(insn: Insn, next_insn: Insn | None = None) -> str:
    """One instruction in the verifier's textual style (best effort, for messages)."""
    c, cls = insn.code, insn.cls
    if c == LD_IMM64:
        hi = next_insn.imm & 0xFFFFFFFF if next_insn else 0
        val = (hi << 32) | (insn.imm & 0xFFFFFFFF)
        tag = {1: " map_fd", 2: " map_value", 3: " btf_id", 4: " func", 5: " map_idx"}.get(insn.src, "")
        return f"r{insn.dst} = {val:#x}{tag} ll"
    if cls in (ALU, ALU64):
        op = _ALU[(c >> 4) & 0xF] if (c >> 4) < len(_ALU) else f"alu{c:#x}"
        w = "r" if cls == ALU64 else "w"
        rhs = f"{w}{insn.src}" if c & 0x08 else str(insn.imm)
        return f"{w}{insn.dst} {op} {rhs}"
    if cls == LDX:
        return f"r{insn.dst} = *({_SIZES[c & 0x18]} *)(r{insn.src} {insn.off:+d})"
    if cls == STX:
        return f"*({_SIZES[c & 0x18]} *)(r{insn.dst} {insn.off:+d}) = r{insn.src}"
    if cls == ST:
        return f"*({_SIZES[c & 0x18]} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
    if cls in (JMP, JMP32):
        op = _JMP[(c >> 4) & 0xF] if (c >> 4) < len(_JMP) else f"jmp{c:#x}"
        if op == "call":
            kind = {1: "pc", 2: "kfunc"}.get(insn.src, "")
            return f"call {kind}{'+' if kind == 'pc' else '#'}{insn.imm}"
        if op == "exit":
            return "exit"
        if op == "ja":
            return f"goto {insn.off:+d}"
        rhs = f"r{insn.src}" if c & 0x08 else str(insn.imm)
        return f"if r{insn.dst} {op} {rhs} goto {insn.off:+d}"
    return f"<code {c:#04x}>"


def disassemble(buf: bytes | bytearray | memoryview, start: int = 0) -> list[str]:
    """All instructions as ``"idx: text"`` lines."""
    out, n, i = [], count(buf), 0
    while i < n:
        ins = decode(buf, i)
        nxt = decode(buf, i + 1) if ins.code == LD_IMM64 and i + 1 < n else None
        out.append(f"{start + i}: {format_insn(ins, nxt)}")
        i += 2 if nxt is not None else 1
    return out
