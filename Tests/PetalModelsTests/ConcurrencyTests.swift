import Foundation
import Synchronization
import XCTest
import PetalCore
import PetalLayers
import PetalModels
import PetalTestSupport

/// Models predicting on several threads at once give, bit for bit, what one thread gives:
/// two different models on two threads, and one shared model on four.
final class ConcurrencyTests: XCTestCase {
    /// A classifier with seeded weights and batch-norm statistics (so that folding the
    /// batch norms into the convolutions changes numbers), on 64x64 inputs.
    private func model(_ architecture: Architecture, classes: Int, seed: UInt64) throws -> TransferClassifier {
        let model = try TransferClassifier(architecture: architecture, classNames: (0..<classes).map { "class\($0)" },
                                           inputSize: 64, base: .none, seed: seed)
        var generator = SplitMix64(seed: seed)
        for layer in model.network.layers {
            guard let bn = layer as? BatchNormalization else { continue }
            try bn.movingMean.load(generator.tensor([bn.channels]) { ($0 - 0.5) * 0.2 })
            try bn.movingVariance.load(generator.tensor([bn.channels]) { 0.5 + $0 })
            try bn.gamma.load(generator.tensor([bn.channels]) { 0.5 + $0 })
            try bn.beta.load(generator.tensor([bn.channels]) { ($0 - 0.5) * 0.2 })
        }
        return model
    }

    /// Three different batches of two normalised images each.
    private func batches(seed: UInt64) throws -> [Tensor] {
        var generator = SplitMix64(seed: seed)
        return try (0..<3).map { _ in try generator.tensor([2, 3, 64, 64]) { $0 * 2 - 1 } }
    }

    /// Runs `work(thread)` on `count` threads started together; returns each thread's result.
    private func onThreads<T: Sendable>(_ count: Int, _ work: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let done = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for t in 0..<count {
            done.enter()
            let thread = Thread {
                start.wait()
                let result = Result { try work(t) }
                results.withLock { $0[t] = result }
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<count { start.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 600), .success, "threads did not finish")
        return try results.withLock { all in try (0..<count).map { try all[$0]!.get() } }
    }

    /// One thread's predictions, and checks that they are real (finite, differing per image)
    /// and equal to the training path's inference forward.
    private func reference(_ model: TransferClassifier, _ inputs: [Tensor]) throws -> [[[Float]]] {
        let predictions = try inputs.map { try model.predict($0) }
        for (x, p) in zip(inputs, predictions) {
            XCTAssertTrue(p.joined().allSatisfy(\.isFinite))
            XCTAssertNotEqual(p[0], p[1], "two different images gave the same probabilities")
            let forward = try SoftmaxCrossEntropy.softmax(model.network.forward(x, training: false))
            XCTAssertEqual(Array(p.joined()), forward, "infer and forward(training: false) differ")
        }
        return predictions
    }

    func testTwoModelsOnTwoThreadsGiveOneThreadsResults() throws {
        let models = [try model(.mobileNetV2(alpha: 0.35), classes: 3, seed: 1),
                      try model(.efficientNetLite(0), classes: 4, seed: 2)]
        let inputs = try batches(seed: 7)
        let expected = try models.map { try reference($0, inputs) }
        XCTAssertNotEqual(expected[0][0][0].count, expected[1][0][0].count)

        let iterations = 6
        let got = try onThreads(2) { t in
            try (0..<iterations).map { i in try models[t].predict(inputs[i % inputs.count]) }
        }
        for t in 0..<2 {
            for i in 0..<iterations {
                XCTAssertEqual(got[t][i], expected[t][i % inputs.count], "model \(t), iteration \(i)")
            }
        }
    }

    func testOneSharedModelOnFourThreadsGivesOneThreadsResults() throws {
        let shared = try model(.mobileNetV2(alpha: 0.35), classes: 5, seed: 3)
        let inputs = try batches(seed: 11)
        let expected = try reference(shared, inputs)

        let iterations = 6
        // Each thread starts at another batch, so that different inputs run at the same time.
        let got = try onThreads(4) { t in
            try (0..<iterations).map { i in try shared.predict(inputs[(t + i) % inputs.count]) }
        }
        for t in 0..<4 {
            for i in 0..<iterations {
                XCTAssertEqual(got[t][i], expected[(t + i) % inputs.count], "thread \(t), iteration \(i)")
            }
        }
    }
}
