import Foundation
import PetalCore
import PetalData
import PetalInference
import PetalLayers
import PetalModels
import PetalTestSupport
import PetalTraining
import XCTest

/// `Quantization.quantize` from files, and `ImageClassifier` on the int8 file it writes:
/// loaded like any model, close to the float model, thread-safe; bad input refused by name.
final class QuantizedInferenceTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("quantized-inference") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    private func floatModel() throws -> URL {
        try TinyModels.model(in: folder.appendingPathComponent("float"), inputSize: 48) { model in
            // A decisive head, so that top-1 means something on random weights.
            let dense = model.network.layer(named: "predictions") as! Dense
            let w = try! dense.weight.value.toArray().map { $0 * 8 }
            try! dense.weight.load(Tensor(shape: dense.weight.shape, values: w))
        }
    }

    func testInt8FileClassifiesLikeTheFloatModelOnAnyThread() throws {
        let model = try floatModel()
        let calibration = try TinyModels.files(in: folder.appendingPathComponent("calibration"), count: 40, seed: 50)
        let int8URL = folder.appendingPathComponent("int8.safetensors")
        let quantized = try Quantization.quantize(model: model, calibrate: calibration[0].deletingLastPathComponent(), count: 32)
        XCTAssertEqual(quantized.record.calibrationImages, 32)
        try quantized.save(to: int8URL)

        let float = try ImageClassifier(contentsOf: model)
        let int8 = try ImageClassifier(contentsOf: int8URL)
        XCTAssertEqual(int8.classNames, float.classNames)
        let files = try TinyModels.files(in: folder.appendingPathComponent("test"), count: 40, seed: 900)
        let f = try float.probabilities(files: files).map { try $0.get() }
        let q = try int8.probabilities(files: files).map { try $0.get() }
        let agree = zip(f, q).filter { $0.firstIndex(of: $0.max()!) == $1.firstIndex(of: $1.max()!) }.count
        let worst = zip(f, q).flatMap { zip($0, $1).map { abs($0 - $1) } }.max()!
        print("int8 vs float: top-1 agreement \(agree)/\(files.count), largest probability difference \(worst)")
        XCTAssertGreaterThanOrEqual(agree, files.count * 9 / 10)
        XCTAssertLessThan(worst, 0.1)

        // Several threads at once on one int8 model: each answer bit-equal to one thread's.
        let images = try files.prefix(8).map { try int8.decode(.file($0)) }
        let expected = try int8.probabilities(images)
        let mismatches = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<5 where (try? int8.probabilities(images)) != expected { mismatches.increment() }
        }
        XCTAssertEqual(mismatches.value, 0, "calls on 4 threads that differ from one thread's")
    }

    func testRefusals() throws {
        let model = try floatModel()
        let images = try TinyModels.files(in: folder.appendingPathComponent("images"), count: 4)
        let empty = folder.appendingPathComponent("empty/class_a")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Data("not an image".utf8).writeAtomically(to: empty.appendingPathComponent("notes.txt"))
        let imageFolder = images[0].deletingLastPathComponent()

        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let emptyMessage = message { _ = try Quantization.quantize(model: model, calibrate: empty.deletingLastPathComponent()) }
        XCTAssertTrue(emptyMessage.contains("empty") && emptyMessage.contains("no images"), emptyMessage)
        let zero = message { _ = try Quantization.quantize(model: model, calibrate: imageFolder, count: 0) }
        XCTAssertTrue(zero.contains("--calibration-images"), zero)
        let missing = folder.appendingPathComponent("missing.safetensors")
        let missingMessage = message { _ = try Quantization.quantize(model: missing, calibrate: imageFolder) }
        XCTAssertTrue(missingMessage.contains(missing.path), missingMessage)
        let noSplit = message { _ = try Quantization.quantize(model: model, calibrate: nil) }
        XCTAssertTrue(noSplit.contains("--calibrate"), noSplit)

        let int8URL = folder.appendingPathComponent("int8.safetensors")
        try Quantization.quantize(model: model, calibrate: imageFolder, count: 4).save(to: int8URL)
        let twice = message { _ = try Quantization.quantize(model: int8URL, calibrate: imageFolder) }
        XCTAssertTrue(twice.contains(int8URL.path) && twice.contains("already an int8 model"), twice)
    }
}

/// A count shared by concurrent iterations.
private final class Counter: @unchecked Sendable {  // unchecked: `count` behind `lock`
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
