import Foundation

/// A value on the stack of the restricted pickle machine. Containers are reference types
/// owned by the machine's `PickleHeap`, so values nest by reference only: whatever a crafted
/// file builds (cycles through the memo, a list nested 100,000 deep), no value's deinit or
/// traversal recurses deeper than the heap allows.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too big for Int (LONG1/LONG4), kept as little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list(PickleList)
    case tuple(PickleTuple)
    case dict(PickleDict)
    /// An allowed global (`torch.FloatStorage`, `torch._utils._rebuild_tensor_v2`, ...).
    case global(String)
    case storage(StorageReference)
    case tensor(TensorReference)
    case mark

    var intValue: Int? {
        switch self {
        case .int(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}

final class PickleList { var items: [PickleValue] = [] }

/// Tuples are immutable in Python; a class here only so that the heap can release them.
final class PickleTuple {
    var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
}

/// An insertion-ordered dictionary (pickled dicts and OrderedDicts keep their order), with an
/// index of its string keys so that a dict of a million entries is built in linear time.
final class PickleDict {
    private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let k) = key {
            if let i = stringIndex[k] { items[i].value = value; return }
            stringIndex[k] = items.count
        }
        items.append((key, value))
    }

    subscript(_ key: String) -> PickleValue? { stringIndex[key].map { items[$0].value } }

    func removeAll() {
        items = []
        stringIndex = [:]
    }
}

/// Owns every container one pickle machine builds and what its persistent ids named.
/// `release()` empties them all, which breaks any reference cycle a crafted pickle made and
/// lets nested containers be freed one by one instead of by a deep chain of deinits.
final class PickleHeap {
    private var lists: [PickleList] = []
    private var tuples: [PickleTuple] = []
    private var dicts: [PickleDict] = []
    /// The element type of each storage key named by a persistent id (`torch.FloatStorage`).
    private(set) var storageTypes: [String: String] = [:]

    func list(_ items: [PickleValue] = []) -> PickleValue {
        let l = PickleList()
        l.items = items
        lists.append(l)
        return .list(l)
    }

    func tuple(_ items: [PickleValue]) -> PickleValue {
        let t = PickleTuple(items)
        tuples.append(t)
        return .tuple(t)
    }

    func dict() -> PickleDict {
        let d = PickleDict()
        dicts.append(d)
        return d
    }

    /// Records a storage's type; false when the same key was named with another type.
    func recordStorage(_ key: String, type: String) -> Bool {
        if let known = storageTypes[key] { return known == type }
        storageTypes[key] = type
        return true
    }

    func release() {
        for l in lists { l.items = [] }
        for t in tuples { t.items = [] }
        for d in dicts { d.removeAll() }
        lists = []
        tuples = []
        dicts = []
    }

    deinit { release() }
}

/// A PyTorch storage named by a persistent id: its key in the file, element type and size.
struct StorageReference {
    let key: String
    let storageType: String
    let elementOffset: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
struct TensorReference {
    let storage: StorageReference
    let offset: Int
    let size: [Int]
    let stride: [Int]
}

/// A pickle interpreter (protocols 0-5) that builds only what state dicts hold: containers,
/// strings, numbers, tensors and storages. It never imports or calls anything: every GLOBAL is
/// checked against a short list of names that it implements itself, and any other is refused.
struct PickleMachine {
    static let storageTypes: Set<String> = [
        "torch.FloatStorage", "torch.HalfStorage", "torch.DoubleStorage", "torch.BFloat16Storage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
        "torch.ByteStorage", "torch.BoolStorage",
    ]
    static let callables: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", "_codecs.encode", "builtins.set", "builtins.frozenset",
    ]

    let path: String
    let bytes: UnsafeRawBufferPointer
    var position: Int
    /// Every container this machine built; the caller keeps the machine (and so the values)
    /// alive while it reads them, and `heap.release()` frees them.
    let heap = PickleHeap()

    init(bytes: UnsafeRawBufferPointer, position: Int = 0, path: String) {
        self.bytes = bytes
        self.position = position
        self.path = path
    }

    private func bad(_ reason: String) -> WeightError { .malformed(path: path, reason: "pickle: \(reason)") }

    private mutating func read(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else { throw bad("unexpected end of data at byte \(position) (truncated file?)") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func byte() throws -> UInt8 { try read(1)[0] }

    private mutating func uint<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        T(littleEndian: try read(MemoryLayout<T>.size).loadUnaligned(as: T.self))
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw bad("unterminated text line") }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    /// A length read from the file, checked against the bytes left before it is used.
    private mutating func length(_ n: UInt64) throws -> Int {
        guard n <= UInt64(bytes.count - position), let count = Int(exactly: n) else {
            throw bad("length \(n) at byte \(position) runs past the end of the data")
        }
        return count
    }

    /// Runs one pickle to its STOP and returns its value; `position` is left just after it.
    mutating func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]

        func pop() throws -> PickleValue {
            guard let v = stack.popLast() else { throw bad("stack underflow") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw bad("missing MARK") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        func top() throws -> PickleValue {
            guard let v = stack.last else { throw bad("stack underflow") }
            return v
        }

        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                  // PROTO
            case 0x95: _ = try uint(UInt64.self)                       // FRAME
            case 0x2E: return try pop()                                // STOP
            case 0x28: marks.append(stack.count)                       // MARK
            case 0x7D: stack.append(.dict(heap.dict()))                // EMPTY_DICT
            case 0x5D: stack.append(heap.list())                       // EMPTY_LIST
            case 0x29: stack.append(heap.tuple([]))                    // EMPTY_TUPLE
            case 0x8F: stack.append(heap.list())                       // EMPTY_SET (as a list)
            case 0x74: stack.append(heap.tuple(try popMark()))         // TUPLE
            case 0x85: stack.append(heap.tuple([try pop()]))           // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(heap.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(heap.tuple([a, b, c]))
            case 0x6C: stack.append(heap.list(try popMark()))          // LIST
            case 0x64:                                                 // DICT
                let items = try popMark()
                let d = heap.dict()
                for i in stride(from: 0, to: items.count - 1, by: 2) { d.set(items[i], items[i + 1]) }
                stack.append(.dict(d))
            case 0x91: stack.append(heap.list(try popMark()))          // FROZENSET
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4A: stack.append(.int(Int(try uint(Int32.self))))   // BININT
            case 0x4B: stack.append(.int(Int(try byte())))             // BININT1
            case 0x4D: stack.append(.int(Int(try uint(UInt16.self))))  // BININT2
            case 0x8A: stack.append(try long(Int(try byte())))         // LONG1
            case 0x8B: stack.append(try long(try length(UInt64(try uint(UInt32.self)))))  // LONG4
            case 0x49:                                                 // INT (text)
                let text = try line()
                if text == "01" { stack.append(.bool(true)) } else if text == "00" { stack.append(.bool(false)) }
                else { guard let v = Int(text) else { throw bad("bad INT \(text)") }; stack.append(.int(v)) }
            case 0x4C:                                                 // LONG (text)
                let text = try line()
                guard let v = Int(text.hasSuffix("L") ? String(text.dropLast()) : text) else { throw bad("bad LONG \(text)") }
                stack.append(.int(v))
            case 0x47: stack.append(.float(Double(bitPattern: UInt64(bigEndian: try read(8).loadUnaligned(as: UInt64.self)))))
            case 0x46:                                                 // FLOAT (text)
                guard let v = Double(try line()) else { throw bad("bad FLOAT") }
                stack.append(.float(v))
            case 0x58: stack.append(.string(try text(try length(UInt64(try uint(UInt32.self))))))   // BINUNICODE
            case 0x8C: stack.append(.string(try text(Int(try byte()))))                             // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(try length(try uint(UInt64.self)))))           // BINUNICODE8
            case 0x56: stack.append(.string(try line()))                                            // UNICODE (raw-unicode-escape; ASCII in practice)
            case 0x54: stack.append(.string(try text(try length(UInt64(try uint(UInt32.self))))))   // BINSTRING
            case 0x55: stack.append(.string(try text(Int(try byte()))))                             // SHORT_BINSTRING
            case 0x53:                                                                               // STRING (quoted)
                var s = try line()
                if s.count >= 2, let q = s.first, q == "'" || q == "\"", s.last == q { s = String(s.dropFirst().dropLast()) }
                stack.append(.string(s))
            case 0x42: stack.append(.bytes(Array(try read(try length(UInt64(try uint(UInt32.self)))))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try read(Int(try byte())))))                            // SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(Array(try read(try length(try uint(UInt64.self))))))     // BINBYTES8, BYTEARRAY8
            case 0x71: memo[Int(try byte())] = try top()                // BINPUT
            case 0x72: memo[Int(try uint(UInt32.self))] = try top()     // LONG_BINPUT
            case 0x70: guard let i = Int(try line()) else { throw bad("bad PUT") }; memo[i] = try top()
            case 0x94: memo[memo.count] = try top()                     // MEMOIZE
            case 0x68, 0x6A, 0x67:                                      // BINGET, LONG_BINGET, GET
                let i = op == 0x68 ? Int(try byte()) : op == 0x6A ? Int(try uint(UInt32.self)) : Int(try line()) ?? -1
                guard let v = memo[i] else { throw bad("memo \(i) used before it was set") }
                stack.append(v)
            case 0x30: _ = try pop()                                    // POP
            case 0x31: _ = try popMark()                                // POP_MARK
            case 0x32: stack.append(try top())                          // DUP
            case 0x61:                                                  // APPEND
                let v = try pop()
                guard case .list(let l) = try top() else { throw bad("APPEND to a non-list") }
                l.items.append(v)
            case 0x65, 0x90:                                            // APPENDS, ADDITEMS
                let vs = try popMark()
                guard case .list(let l) = try top() else { throw bad("APPENDS to a non-list") }
                l.items += vs
            case 0x73:                                                  // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let d) = try top() else { throw bad("SETITEM on a non-dict") }
                d.set(k, v)
            case 0x75:                                                  // SETITEMS
                let items = try popMark()
                guard case .dict(let d) = try top() else { throw bad("SETITEMS on a non-dict") }
                for i in stride(from: 0, to: items.count - 1, by: 2) { d.set(items[i], items[i + 1]) }
            case 0x63:                                                  // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93:                                                  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw bad("STACK_GLOBAL without module and name strings")
                }
                stack.append(try global(module, name))
            case 0x52:                                                  // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try call(callable, args))
            case 0x81:                                                  // NEWOBJ
                let args = try pop(), cls = try pop()
                stack.append(try call(cls, args))
            case 0x92:                                                  // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), cls = try pop()
                stack.append(try call(cls, args))
            case 0x62:                                                  // BUILD: state of an OrderedDict (`_metadata`) is not needed
                _ = try pop()
            case 0x51:                                                  // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x50:                                                  // PERSID
                stack.append(try persistentLoad(.string(try line())))
            case 0x69:                                                  // INST: builds an arbitrary class
                let module = try line(), name = try line()
                throw WeightError.refusedGlobal(path: path, global: "\(module).\(name)")
            default:
                throw bad(String(format: "unsupported opcode 0x%02x at byte %d", op, position - 1))
            }
        }
    }

    private mutating func text(_ count: Int) throws -> String {
        String(decoding: try read(count), as: UTF8.self)
    }

    private mutating func long(_ count: Int) throws -> PickleValue {
        let raw = Array(try read(count))
        guard let last = raw.last else { return .int(0) }
        if raw.count > 8 { return .bigInt(raw) }
        var value: UInt64 = 0
        for (i, b) in raw.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        if last & 0x80 != 0 && raw.count < 8 { value |= ~0 << (8 * UInt64(raw.count)) }  // sign-extend
        return .int(Int(bitPattern: UInt(value)))
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        let full = "\(module).\(name)"
        // Python 2 pickles say __builtin__ where Python 3 says builtins.
        let normalized = full.hasPrefix("__builtin__.") ? "builtins." + name : full
        guard Self.storageTypes.contains(normalized) || Self.callables.contains(normalized) else {
            throw WeightError.refusedGlobal(path: path, global: full)
        }
        return .global(normalized)
    }

    private func call(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let name) = callable else { throw bad("call of a non-callable value") }
        guard case .tuple(let argumentTuple) = args else { throw bad("arguments of \(name) are not a tuple") }
        let a = argumentTuple.items
        switch name {
        case "collections.OrderedDict":
            let d = heap.dict()
            if case .list(let pairs)? = a.first {
                for case .tuple(let kv) in pairs.items where kv.items.count == 2 { d.set(kv.items[0], kv.items[1]) }
            }
            return .dict(d)
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard a.count >= 4, case .storage(let storage) = a[0], let offset = a[1].intValue,
                  case .tuple(let sizeTuple) = a[2], case .tuple(let strideTuple) = a[3] else {
                throw bad("\(name) with unexpected arguments")
            }
            let size = sizeTuple.items, stride = strideTuple.items
            let sizes = size.compactMap(\.intValue), strides = stride.compactMap(\.intValue)
            guard sizes.count == size.count, strides.count == stride.count, sizes.count == strides.count else {
                throw bad("tensor size \(size.count)-D and stride \(stride.count)-D do not match")
            }
            return .tensor(TensorReference(storage: storage, offset: offset, size: sizes, stride: strides))
        case "torch._utils._rebuild_parameter":
            guard let data = a.first else { throw bad("_rebuild_parameter without data") }
            return data
        case "_codecs.encode":
            guard case .string(let s)? = a.first else { throw bad("_codecs.encode without a string") }
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })  // latin1
        case "builtins.set", "builtins.frozenset":
            if case .list(let items)? = a.first { return heap.list(items.items) }
            return heap.list()
        default:
            throw WeightError.refusedGlobal(path: path, global: name)
        }
    }

    /// `('storage', storage_type, key, location, numel[, view_metadata])`, as torch.save writes.
    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = pid, tuple.items.count >= 5, case .string("storage") = tuple.items[0],
              case .global(let type) = tuple.items[1], Self.storageTypes.contains(type) else {
            throw bad("unsupported persistent id (expected a torch storage)")
        }
        let t = tuple.items
        let key: String
        switch t[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw bad("storage key is not a string")
        }
        guard heap.recordStorage(key, type: type) else { throw bad("storage `\(key)` is named with two element types") }
        // Old legacy files could store views of a storage: (view_key, offset, view_size).
        if t.count >= 6, case .tuple(let viewTuple) = t[5], viewTuple.items.count >= 2, let offset = viewTuple.items[1].intValue {
            return .storage(StorageReference(key: key, storageType: type, elementOffset: offset))
        }
        return .storage(StorageReference(key: key, storageType: type, elementOffset: 0))
    }
}
