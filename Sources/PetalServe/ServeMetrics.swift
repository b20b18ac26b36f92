import Foundation
import Synchronization

/// The server's counters, exported at GET /metrics in Prometheus's text format: requests by
/// route and status, request latency, batch sizes, queue depth and images classified.
public final class ServeMetrics: Sendable {
    /// Upper bounds of the latency histogram's buckets, in seconds.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Upper bounds of the batch-size histogram's buckets, in images.
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    struct Histogram {
        var bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) { self.bounds = bounds; counts = Array(repeating: 0, count: bounds.count) }

        mutating func observe(_ value: Double) {
            if let i = bounds.firstIndex(where: { value <= $0 }) { counts[i] += 1 }
            sum += value
            count += 1
        }
    }

    struct RequestKey: Hashable, Comparable {
        var route: String
        var code: Int
        static func < (a: Self, b: Self) -> Bool { (a.route, a.code) < (b.route, b.code) }
    }

    struct State {
        var requests: [RequestKey: Int] = [:]
        var latency: [String: Histogram] = [:]
        var batchSizes: [String: Histogram] = [:]
        var queueDepth: [String: Int] = [:]
        var imagesClassified: [String: Int] = [:]
        var rejected: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    func recordRequest(route: String, code: Int, seconds: Double) {
        state.withLock {
            $0.requests[RequestKey(route: route, code: code), default: 0] += 1
            $0.latency[route, default: Histogram(bounds: Self.latencyBuckets)].observe(seconds)
        }
    }

    func recordBatch(model: String, size: Int) {
        state.withLock {
            $0.batchSizes[model, default: Histogram(bounds: Self.batchBuckets)].observe(Double(size))
            $0.imagesClassified[model, default: 0] += size
        }
    }

    func setQueueDepth(model: String, depth: Int) {
        state.withLock { $0.queueDepth[model] = depth }
    }

    func recordRejected(model: String, images: Int) {
        state.withLock { $0.rejected[model, default: 0] += images }
    }

    /// The batches run so far for `model` (count, images), for tests and logs.
    public func batches(model: String) -> (count: Int, images: Int) {
        state.withLock { s in
            let h = s.batchSizes[model]
            return (h?.count ?? 0, Int(h?.sum ?? 0))
        }
    }

    /// Everything in Prometheus's text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        let s = state.withLock { $0 }
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func histogram(_ name: String, label: String, _ histograms: [String: Histogram]) {
            for key in histograms.keys.sorted() {
                let h = histograms[key]!
                let l = "\(label)=\"\(escape(key))\""
                var cumulative = 0
                for (bound, count) in zip(h.bounds, h.counts) {
                    cumulative += count
                    out += "\(name)_bucket{\(l),le=\"\(format(bound))\"} \(cumulative)\n"
                }
                out += "\(name)_bucket{\(l),le=\"+Inf\"} \(h.count)\n"
                out += "\(name)_sum{\(l)} \(format(h.sum))\n"
                out += "\(name)_count{\(l)} \(h.count)\n"
            }
        }
        header("petal_http_requests_total", "counter", "HTTP requests answered, by route and status code.")
        for key in s.requests.keys.sorted() {
            out += "petal_http_requests_total{route=\"\(escape(key.route))\",code=\"\(key.code)\"} \(s.requests[key]!)\n"
        }
        header("petal_http_request_duration_seconds", "histogram", "Time from a request's arrival to its answer, by route.")
        histogram("petal_http_request_duration_seconds", label: "route", s.latency)
        header("petal_batch_size", "histogram", "Images per forward pass, by model.")
        histogram("petal_batch_size", label: "model", s.batchSizes)
        header("petal_queue_depth", "gauge", "Images waiting for a forward pass, by model.")
        for key in s.queueDepth.keys.sorted() { out += "petal_queue_depth{model=\"\(escape(key))\"} \(s.queueDepth[key]!)\n" }
        header("petal_images_classified_total", "counter", "Images classified, by model.")
        for key in s.imagesClassified.keys.sorted() {
            out += "petal_images_classified_total{model=\"\(escape(key))\"} \(s.imagesClassified[key]!)\n"
        }
        header("petal_images_rejected_total", "counter", "Images refused because the queue was full, by model.")
        for key in s.rejected.keys.sorted() { out += "petal_images_rejected_total{model=\"\(escape(key))\"} \(s.rejected[key]!)\n" }
        return out
    }

    private func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
