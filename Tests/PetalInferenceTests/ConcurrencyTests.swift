import Foundation
import PetalData
import PetalInference
import PetalTestSupport
import XCTest

/// One loaded model shared by many threads and Swift tasks gives every caller exactly what
/// one thread alone gets (bit for bit), and two models run side by side without mixing.
final class ConcurrencyTests: XCTestCase {
    private var folder: URL!

    override func setUp() { folder = Fixtures.temporaryDirectory("inference-threads") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// The requests every caller makes: single images and batches of several sizes.
    private func requests(size: Int, seed: UInt64) -> [[RGBImage]] {
        let images = (0..<6).map { TinyModels.image(width: size + $0 * 3, height: size, seed: seed &+ UInt64($0)) }
        return [[images[0]], [images[1], images[2]], [images[3]], images, [images[4], images[5], images[0]]]
    }

    /// Answers from one thread, the reference.
    private func reference(_ classifier: ImageClassifier, _ requests: [[RGBImage]]) throws -> [[[Float]]] {
        try requests.map { try classifier.probabilities($0) }
    }

    func testEightThreadsShareOneModel() throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        let requests = requests(size: 32, seed: 1)
        let expected = try reference(classifier, requests)
        let calls = 40
        let mismatches = Tally(), finished = Tally()
        Threads.run(count: 8) { thread in
            for call in 0..<calls {
                let k = (thread + call) % requests.count
                let answer = try classifier.probabilities(requests[k])
                if answer != expected[k] { mismatches.add("thread \(thread) call \(call) request \(k)") }
            }
            finished.add("thread \(thread)")
        } failed: { mismatches.add("thread error: \($0)") }
        XCTAssertEqual(mismatches.items, [], "answers differing from one thread's")
        XCTAssertEqual(finished.items.count, 8)
    }

    func testTwoModelsInTwoThreads() throws {
        let first = try ImageClassifier(contentsOf: try TinyModels.model(
            in: folder.appendingPathComponent("first"), classes: ["a", "b"], inputSize: 32, seed: 3))
        let second = try ImageClassifier(contentsOf: try TinyModels.model(
            in: folder.appendingPathComponent("second"), classes: ["p", "q", "r", "s"], inputSize: 48,
            architecture: .efficientNetLite(0), seed: 4))
        let models = [first, second]
        let requests = [requests(size: 32, seed: 5), requests(size: 48, seed: 6)]
        let expected = try [reference(first, requests[0]), reference(second, requests[1])]
        let mismatches = Tally()
        Threads.run(count: 2) { m in
            for call in 0..<30 {
                let k = call % requests[m].count
                if try models[m].probabilities(requests[m][k]) != expected[m][k] { mismatches.add("model \(m) call \(call)") }
            }
        } failed: { mismatches.add("thread error: \($0)") }
        XCTAssertEqual(mismatches.items, [])
        XCTAssertEqual(expected[1][0][0].count, 4)
    }

    func testManySwiftTasksShareOneModel() async throws {
        let classifier = try ImageClassifier(contentsOf: try TinyModels.model(in: folder))
        let images = (0..<8).map { TinyModels.image(width: 32, height: 40, seed: 20 &+ UInt64($0)) }
        let expected = try images.map { try classifier.classify(.pixels($0), top: 3) }
        let answers = try await withThrowingTaskGroup(of: (Int, Classification).self) { group in
            for task in 0..<48 {
                group.addTask { (task, try classifier.classify(.pixels(images[task % images.count]), top: 3)) }
            }
            var answers: [(Int, Classification)] = []
            for try await answer in group { answers.append(answer) }
            return answers
        }
        XCTAssertEqual(answers.count, 48)
        for (task, answer) in answers { XCTAssertEqual(answer, expected[task % images.count], "task \(task)") }
    }
}

/// Starts `count` threads running `body(index)` and waits for all of them.
enum Threads {
    static func run(count: Int, _ body: @escaping @Sendable (Int) throws -> Void,
                    failed: @escaping @Sendable (Error) -> Void) {
        let done = DispatchGroup()
        for index in 0..<count {
            done.enter()
            let thread = Thread {
                do { try body(index) } catch { failed(error) }
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
    }
}

/// Strings collected from several threads (the lock is the reason for @unchecked).
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []

    func add(_ item: String) { lock.withLock { collected.append(item) } }
    var items: [String] { lock.withLock { collected } }
}
