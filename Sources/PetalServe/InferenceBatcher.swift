import Foundation
import PetalData
import PetalInference

/// One model's forward passes, on a thread of its own (a pass blocks for milliseconds, too long
/// for Swift's cooperative pool). Requests queue decoded images; the thread runs whatever is
/// queued together once `maxBatch` images wait or the oldest has waited `maxDelay`, whichever
/// comes first. The queue holds at most `maxQueue` images: beyond it requests are refused
/// (503 with Retry-After) instead of waiting without bound.
final class InferenceBatcher: @unchecked Sendable {  // mutable state is guarded by `condition`
    struct Entry {
        var images: [RGBImage]
        var enqueued: Date
        var continuation: CheckedContinuation<[[Float]], any Error>
    }

    let model: String
    let classifier: ImageClassifier
    let maxBatch: Int
    let maxQueue: Int
    let maxDelay: TimeInterval
    let metrics: ServeMetrics

    private let condition = NSCondition()
    private var queue: [Entry] = []
    private var queuedImages = 0
    private var stopping = false
    private var stopped = false

    init(model: String, classifier: ImageClassifier, configuration: ServeConfiguration, metrics: ServeMetrics) {
        self.model = model
        self.classifier = classifier
        maxBatch = configuration.maxBatch
        maxQueue = configuration.maxQueue
        let delay = configuration.maxDelay.components
        maxDelay = Double(delay.seconds) + Double(delay.attoseconds) * 1e-18
        self.metrics = metrics
        metrics.setQueueDepth(model: model, depth: 0)
        let thread = Thread { [self] in work() }
        thread.name = "petal-batcher-\(model)"
        thread.start()
    }

    /// Softmax probabilities for images at the model's input size, one row per image, computed
    /// in a batch with whatever other requests queued meanwhile.
    func probabilities(_ images: [RGBImage]) async throws -> [[Float]] {
        guard !images.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if stopping { return continuation.resume(throwing: ServeError.shuttingDown) }
            // A request bigger than the whole queue still runs when the queue is empty.
            if queuedImages > 0, queuedImages + images.count > maxQueue {
                metrics.recordRejected(model: model, images: images.count)
                // One batch's time is a fair guess at when room frees; whole seconds is what HTTP has.
                return continuation.resume(throwing: ServeError.overloaded(retryAfter: 1))
            }
            queue.append(Entry(images: images, enqueued: Date(), continuation: continuation))
            queuedImages += images.count
            metrics.setQueueDepth(model: model, depth: queuedImages)
            condition.signal()
        }
    }

    /// Refuses new work; what is queued still runs, then the thread ends.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the thread has run everything queued and ended (after `shutdown`).
    func waitUntilStopped() {
        condition.lock()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func work() {
        while let batch = nextBatch() {
            let images = batch.flatMap(\.images)
            var rows: [[Float]] = []
            var failure: (any Error)?
            // A single request over maxBatch runs in chunks, so no pass exceeds maxBatch images.
            for start in stride(from: 0, to: images.count, by: maxBatch) {
                let chunk = Array(images[start..<min(start + maxBatch, images.count)])
                do {
                    rows += try classifier.probabilities(chunk)
                    metrics.recordBatch(model: model, size: chunk.count)
                } catch {
                    failure = error
                    break
                }
            }
            var offset = 0
            for entry in batch {
                if let failure {
                    entry.continuation.resume(throwing: ServeError.internal("forward pass failed: \(failure)"))
                } else {
                    entry.continuation.resume(returning: Array(rows[offset..<(offset + entry.images.count)]))
                }
                offset += entry.images.count
            }
        }
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next entries to run together, or nil once stopping with nothing queued.
    private func nextBatch() -> [Entry]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if queue.isEmpty {
                if stopping { return nil }
                condition.wait()
                continue
            }
            let deadline = queue[0].enqueued.addingTimeInterval(maxDelay)
            if queuedImages >= maxBatch || stopping || Date() >= deadline {
                var taken = 0, count = 0
                // Whole requests, up to maxBatch images (at least one request).
                while count < queue.count, count == 0 || taken + queue[count].images.count <= maxBatch {
                    taken += queue[count].images.count
                    count += 1
                }
                let batch = Array(queue.prefix(count))
                queue.removeFirst(count)
                queuedImages -= taken
                metrics.setQueueDepth(model: model, depth: queuedImages)
                return batch
            }
            _ = condition.wait(until: deadline)
        }
    }
}
