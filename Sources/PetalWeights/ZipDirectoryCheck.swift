import Foundation

/// Checks every offset and size a zip's directory declares against the file before
/// ZIPFoundation reads it: ZIPFoundation converts them to signed integers and traps on values
/// of 2^63 and more (`off_t(offset)` in `Data.readStruct`, found by benchmarks/fuzz/pickle.swift).
enum ZipDirectoryCheck {
    static func validate(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        func bad(_ reason: String) -> WeightError { .malformed(path: path, reason: "zip: \(reason)") }
        let n = bytes.count
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> UInt64? {
            guard offset >= 0, offset <= n - MemoryLayout<T>.size else { return nil }
            return UInt64(T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self)))
        }
        // The end-of-central-directory record: the last signature in the final 22 + 65,535 bytes.
        guard n >= 22, let eocd = stride(from: n - 22, through: max(0, n - 22 - 65_535), by: -1)
            .first(where: { load($0, UInt32.self) == 0x0605_4B50 }) else {
            throw bad("no end-of-central-directory record (truncated file?)")
        }
        guard var entries = load(eocd + 10, UInt16.self), var size = load(eocd + 12, UInt32.self),
              var start = load(eocd + 16, UInt32.self) else { throw bad("cut end-of-central-directory record") }
        // ZIP64 (PyTorch always writes it): ZIPFoundation takes the record just before the locator
        // before the end record whenever both signatures are there and the record asks for version 4.5.
        let locator = eocd - 20, record = locator - 56
        if record >= 0, load(locator, UInt32.self) == 0x0706_4B50, load(record, UInt32.self) == 0x0606_4B50,
           let version = load(record + 14, UInt16.self), version >= 45 {
            guard let e = load(record + 32, UInt64.self), let s = load(record + 40, UInt64.self),
                  let o = load(record + 48, UInt64.self) else { throw bad("cut ZIP64 end-of-central-directory record") }
            (entries, size, start) = (e, s, o)
        }
        guard start <= UInt64(n), size <= UInt64(n) - start, entries <= size / 46 else {
            throw bad("the central directory (\(entries) entries, \(size) bytes at \(start)) lies outside the file of \(n) bytes")
        }
        // Deflate expands at most about 1032 times; a stored entry is no larger than the file.
        let largest = UInt64(n) * 1032
        var p = Int(start)
        for i in 0..<Int(entries) {
            guard load(p, UInt32.self) == 0x0201_4B50, let compressed = load(p + 20, UInt32.self),
                  let uncompressed = load(p + 24, UInt32.self), let nameLength = load(p + 28, UInt16.self),
                  let extraLength = load(p + 30, UInt16.self), let commentLength = load(p + 32, UInt16.self),
                  let local = load(p + 42, UInt32.self) else {
                throw bad("central directory entry \(i) is cut or corrupt")
            }
            var values = [compressed, uncompressed, local]
            // Every 64-bit value of a ZIP64 extra field (sizes, local header offset).
            var e = p + 46 + Int(nameLength)
            let extraEnd = e + Int(extraLength)
            while e + 4 <= extraEnd, let id = load(e, UInt16.self), let length = load(e + 2, UInt16.self) {
                if id == 1 {
                    var q = e + 4
                    while q + 8 <= min(e + 4 + Int(length), extraEnd), let v = load(q, UInt64.self) { values.append(v); q += 8 }
                }
                e += 4 + Int(length)
            }
            guard values.allSatisfy({ $0 <= largest }), local < UInt64(n) || local == 0xFFFF_FFFF else {
                throw bad("entry \(i) declares sizes or offsets beyond the file of \(n) bytes")
            }
            p += 46 + Int(nameLength) + Int(extraLength) + Int(commentLength)
        }
    }
}
