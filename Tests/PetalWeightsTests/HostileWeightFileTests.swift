import Foundation
import PetalCore
import PetalTestSupport
@testable import PetalWeights
import XCTest

/// Crafted weights files (made here, byte by byte) must give a `WeightError` that names the
/// file and the problem, never a trap, a stack overflow or a huge allocation.
final class HostileWeightFileTests: XCTestCase {
    private var dir: URL!

    override func setUp() { dir = Fixtures.temporaryDirectory("petal-hostile") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// Asserts a `.malformed` error for `url` whose reason contains `words`.
    private func assertMalformed(_ url: URL, _ words: String, file: StaticString = #filePath, line: UInt = #line,
                                 _ read: (URL) throws -> Void) {
        XCTAssertThrowsError(try read(url), file: file, line: line) { error in
            guard case .malformed(let path, let reason)? = error as? WeightError else {
                return XCTFail("expected WeightError.malformed, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, url.path, file: file, line: line)
            XCTAssertTrue(reason.contains(words), "'\(reason)' does not say '\(words)'", file: file, line: line)
            XCTAssertTrue("\(error)".contains(url.path), "\(error) does not name the file", file: file, line: line)
        }
    }

    // MARK: safetensors

    /// Writes a safetensors file with this JSON header (and `length` in place of its real length)
    /// and asserts that reading it is refused with `words`.
    private func assertSafetensorsRefused(_ header: String, data: [UInt8] = [0, 0, 0, 0], length: UInt64? = nil, _ words: String,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let json = Array(header.utf8)
        let bytes = withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian, Array.init) + json + data
        let url = try write(bytes, "crafted-\(UUID().uuidString).safetensors")
        assertMalformed(url, words, file: file, line: line) { _ = try SafetensorsFile.read($0) }
    }

    func testSafetensorsHeaderLengthBeyondTheFile() throws {
        try assertSafetensorsRefused("{}", length: UInt64.max, "header length 18446744073709551615")
    }

    func testSafetensorsShapeWhoseProductOverflows() throws {
        try assertSafetensorsRefused(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,4],"data_offsets":[0,4]}}"#,
                                     "more elements than can be addressed")
    }

    func testSafetensorsShapeThatDoesNotMatchItsBytes() throws {
        try assertSafetensorsRefused(#"{"w":{"dtype":"F16","shape":[3,3],"data_offsets":[0,4]}}"#,
                                     "tensor `w` of shape [3, 3] (F16) needs 9 elements, the file has 4 bytes")
    }

    func testSafetensorsOffsetsOutsideTheData() throws {
        try assertSafetensorsRefused(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "data of `w` [4, 8) lies outside the 4 data bytes")
    }

    func testSafetensorsNonIntegerShapeAndBadJSON() throws {
        try assertSafetensorsRefused(#"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#, "the header is not a JSON object of tensor entries")
        try assertSafetensorsRefused(#"{"w":{"dtype":"F32","shape":["x"],"data_offsets":[0,4]}}"#, "`w`.`shape`.[0]")
        try assertSafetensorsRefused(String(repeating: "[", count: 100_000), data: [], "the header is not a JSON object")
    }

    // MARK: pickle and PyTorch checkpoints

    private static func string(_ s: String) -> [UInt8] {
        let utf8 = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
    }

    private static func int(_ v: Int32) -> [UInt8] { [0x4A] + withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// `_rebuild_tensor_v2(storage key "0" (FloatStorage), offset, size, stride)` as torch.save pickles it.
    private static func tensor(offset: Int32 = 0, size: [Int32], stride: [Int32]) -> [UInt8] {
        var p: [UInt8] = [0x63] + Array("torch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28]
        p += [0x28] + string("storage") + [0x63] + Array("torch\nFloatStorage\n".utf8) + string("0") + string("cpu") + int(4) + [0x74, 0x51]
        p += int(offset)
        p += [0x28] + size.flatMap(int) + [0x74]
        p += [0x28] + stride.flatMap(int) + [0x74]
        p += [0x89, 0x74, 0x52]
        return p
    }

    /// A legacy (PyTorch < 1.6) checkpoint: magic, protocol 1001, sys info, `object`, the key
    /// list, then storage "0" (when given) as an element count and its bytes.
    private static func legacy(object: [UInt8], storageCount: UInt64? = nil, storageBytes: [UInt8] = []) -> [UInt8] {
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        var out = magic + [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E] + [0x80, 0x02, 0x7D, 0x2E]
        out += [0x80, 0x02] + object + [0x2E]
        guard let storageCount else { return out + [0x80, 0x02, 0x5D, 0x2E] }
        out += [0x80, 0x02, 0x5D, 0x28] + string("0") + [0x65, 0x2E]
        out += withUnsafeBytes(of: storageCount.littleEndian, Array.init) + storageBytes
        return out
    }

    /// `{name: tensor}` as a pickled dict.
    private static func stateDict(_ name: String, _ tensor: [UInt8]) -> [UInt8] { [0x7D] + string(name) + tensor + [0x73] }

    func testLegacyCheckpointReadsAValidTensor() throws {
        // The crafted format is right: the same bytes with sane numbers load.
        let floats: [Float] = [1, 2, 3, 4, 5, 6]
        let bytes = Self.legacy(object: Self.stateDict("w", Self.tensor(size: [3, 2], stride: [1, 3])), storageCount: 6,
                                storageBytes: floats.withUnsafeBytes(Array.init))
        let checkpoint = try PyTorchCheckpointReader.read(try write(bytes, "good.pth"))
        XCTAssertEqual(checkpoint.tensors["w"]?.shape, [3, 2])
        XCTAssertEqual(try checkpoint.tensors["w"]?.toArray(), [1, 4, 2, 5, 3, 6])
    }

    func testPyTorchStorageOutOfRange() throws {
        let bytes = Self.legacy(object: Self.stateDict("w", Self.tensor(size: [4, 4], stride: [4, 1])), storageCount: 4,
                                storageBytes: [UInt8](repeating: 0, count: 16))
        assertMalformed(try write(bytes, "range.pth"), "tensor `w` reaches element 15 of a storage of 4") { _ = try PyTorchCheckpointReader.read($0) }
    }

    func testPyTorchShapeAndStrideOverflow() throws {
        let big = Int32.max
        let shape = Self.legacy(object: Self.stateDict("w", Self.tensor(size: [big, big, big], stride: [0, 0, 0])), storageCount: 1,
                                storageBytes: [0, 0, 0, 0])
        assertMalformed(try write(shape, "shape.pth"), "more elements than can be addressed") { _ = try PyTorchCheckpointReader.read($0) }
        let stride = Self.legacy(object: Self.stateDict("w", Self.tensor(offset: big, size: [2, big, big], stride: [big, big, big])),
                                 storageCount: 1, storageBytes: [0, 0, 0, 0])
        assertMalformed(try write(stride, "stride.pth"), "tensor `w`") { _ = try PyTorchCheckpointReader.read($0) }
        let expanded = Self.legacy(object: Self.stateDict("w", Self.tensor(size: [100_000, 100_000], stride: [0, 0])), storageCount: 1,
                                   storageBytes: [0, 0, 0, 0])
        assertMalformed(try write(expanded, "expanded.pth"), "has 10000000000 elements but its storage only 1") { _ = try PyTorchCheckpointReader.read($0) }
    }

    func testLegacyStorageCountBeyondTheFile() throws {
        let bytes = Self.legacy(object: Self.stateDict("w", Self.tensor(size: [1], stride: [1])), storageCount: UInt64.max, storageBytes: [])
        assertMalformed(try write(bytes, "count.pth"), "storage `0` of 18446744073709551615 elements runs past the end") {
            _ = try PyTorchCheckpointReader.read($0)
        }
    }

    func testPickleNested100000DeepIsRefusedWithoutOverflowingTheStack() throws {
        // {"a": {"a": {... 100,000 levels}}}: the machine builds it iteratively, the reader refuses it.
        let depth = 100_000
        var object: [UInt8] = [0x7D]
        for _ in 0..<depth { object += Self.string("a") + [0x7D] }
        object += [UInt8](repeating: 0x73, count: depth)
        let url = try write(Self.legacy(object: object), "deep.pth")
        assertMalformed(url, "dicts nested more than 100 deep") { _ = try PyTorchCheckpointReader.read($0) }

        // Lists and tuples 100,000 deep load and are freed without a deep chain of deinits.
        let lists = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
        let tuples = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: depth) + [0x2E]
        for bytes in [lists, tuples] {
            try bytes.withUnsafeBytes { raw in
                var machine = PickleMachine(bytes: raw, path: "deep.pkl")
                defer { machine.heap.release() }
                let value = try machine.load()
                switch value {
                case .list(let l): XCTAssertEqual(l.items.count, 1)
                case .tuple(let t): XCTAssertEqual(t.items.count, 1)
                default: XCTFail("\(value)")
                }
            }
        }
    }

    func testPickleDictThatContainsItself() throws {
        // d = {}; d["a"] = d — through the memo (BINPUT 0, BINGET 0).
        let object: [UInt8] = [0x7D, 0x71, 0x00] + Self.string("a") + [0x68, 0x00, 0x73]
        let url = try write(Self.legacy(object: object), "cycle.pth")
        assertMalformed(url, "appears twice (or contains itself)") { _ = try PyTorchCheckpointReader.read($0) }
    }

    func testZipWithAnEntryPastTheEnd() throws {
        // Found by benchmarks/fuzz/pickle.swift: a local header whose sizes point past the archive
        // trapped inside ZIPFoundation's in-memory file.
        let url = Fixtures.url("weights/fuzz_zip_entry_past_end.pth")
        XCTAssertThrowsError(try PyTorchCheckpointReader.read(url)) { error in
            guard case .malformed(let path, _)? = error as? WeightError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
        }
    }

    func testZip64OffsetBeyondWhatAnIntHolds() throws {
        // Found by benchmarks/fuzz/pickle.swift: a ZIP64 extra field giving a local header offset
        // of 2^63 or more trapped in ZIPFoundation (`off_t(offset)`); the directory is checked first.
        assertMalformed(Fixtures.url("weights/fuzz_zip64_offset_overflow.pth"), "zip: the central directory (10 entries, 613 bytes at 17581840739510258002) lies outside the file of 3097 bytes") {
            _ = try PyTorchCheckpointReader.read($0)
        }
    }

    func testZipWithAWrongEntry() throws {
        // The real zip fixture with its storage entry renamed: `data/0` is missing.
        var bytes = [UInt8](try Data(contentsOf: Fixtures.url("weights/tiny_zip.pth")))
        let name = Array("/data/3".utf8)
        var renamed = 0
        for i in 0..<(bytes.count - name.count) where Array(bytes[i..<(i + name.count)]) == name {
            bytes[i + name.count - 1] = UInt8(ascii: "9")
            renamed += 1
        }
        XCTAssertGreaterThan(renamed, 0)
        assertMalformed(try write(bytes, "wrong-entry.pth"), "data/3` is missing") { _ = try PyTorchCheckpointReader.read($0) }
    }

    // MARK: HDF5

    func testTruncatedKerasFile() throws {
        let data = try Data(contentsOf: Fixtures.url("weights/tiny_keras2_notop.h5"))
        let url = try write([UInt8](data.prefix(data.count / 3)), "cut.h5")
        XCTAssertThrowsError(try WeightFile.read(url)) { error in
            guard case .malformed(let path, _)? = error as? WeightError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
        }
    }

    func testKerasDatasetShapesBeyondWhatTheFileHolds() throws {
        // tiny_keras2_notop.h5 (h5py, no metadata checksums) stores Conv1/kernel's dims [3, 3, 3, 4]
        // and max dims at these offsets; each crafted first dimension must be refused, not allocated.
        let original = [UInt8](try Data(contentsOf: Fixtures.url("weights/tiny_keras2_notop.h5")))
        let dims = [UInt64(3), 3, 3, 4].flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        XCTAssertEqual(Array(original[8264..<8296]), dims)
        XCTAssertEqual(Array(original[8296..<8328]), dims)
        for first in [UInt64(1) << 40, UInt64(1) << 62, UInt64.max - 1] {
            var bytes = original
            for offset in [8264, 8296] { bytes.replaceSubrange(offset..<(offset + 8), with: withUnsafeBytes(of: first.littleEndian, Array.init)) }
            assertMalformed(try write(bytes, "dims-\(first).h5"), "Conv1") { _ = try WeightFile.read($0) }
        }
    }

    // MARK: a folder given as weights

    func testAFolderGivenAsWeightsNamesItsWeightFiles() throws {
        let folder = dir.appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data().write(to: folder.appendingPathComponent("b.safetensors"))
        try Data().write(to: folder.appendingPathComponent("a.pth"))
        try Data().write(to: folder.appendingPathComponent("notes.txt"))
        let readers: [(URL) throws -> Void] = [
            { _ = try WeightFile.read($0) }, { _ = try WeightStore(contentsOf: $0) }, { _ = try WeightFormat.detect($0) },
            { _ = try SafetensorsFile.read($0) }, { _ = try PyTorchCheckpointReader.read($0) }, { _ = try KerasHDF5Reader($0) },
        ]
        for read in readers {
            XCTAssertThrowsError(try read(folder)) { error in
                XCTAssertEqual(error as? WeightError, .folder(path: folder.path, weightFiles: ["a.pth", "b.safetensors"]))
                XCTAssertEqual("\(error)", "\(folder.path) is a folder, not a weights file; pass one of its files: a.pth, b.safetensors")
            }
        }
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try WeightFile.read(empty)) { error in
            XCTAssertEqual("\(error)", "\(empty.path) is a folder, not a weights file; it holds no weights file (.h5, .pth, .pt, .bin, .safetensors)")
        }
    }
}
