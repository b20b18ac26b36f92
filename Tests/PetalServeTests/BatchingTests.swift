import Foundation
import PetalData
import PetalServe
import PetalTestSupport
import XCTest

/// Concurrent requests are batched, answer what `petal predict` answers, and a full queue
/// refuses work with 503 and Retry-After.
final class BatchingTests: XCTestCase {
    func testSixtyFourConcurrentRequestsAreBatchedAndEqualPetalPredict() async throws {
        let model = try TinyModel(label: "serve-batching")
        defer { model.remove() }
        let server = try await RunningServer(models: [("flowers", model.file)]) {
            $0.maxBatch = 16
            $0.maxDelay = .milliseconds(20)
        }
        let count = 64
        var files: [URL] = []
        for i in 0..<count {
            let url = model.folder.appendingPathComponent("image\(i).\(i % 2 == 0 ? "jpg" : "png")")
            try (i % 2 == 0 ? TestImages.jpeg(i) : TestImages.png(i)).writeAtomically(to: url)
            files.append(url)
        }
        let predict = try PetalProcess.run(["predict", "--json", "--top", "3", model.file.path] + files.map(\.path))
        XCTAssertEqual(predict.status, 0, predict.output)
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(predict.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(expected.count, count)

        let base = server.base
        let answers = try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
            for (i, file) in files.enumerated() {
                group.addTask {
                    let data = try Data(contentsOf: file)
                    return (i, try await Client.post("\(base)/v1/models/flowers/predict?top=3", data,
                                                     contentType: i % 2 == 0 ? "image/jpeg" : "image/png"))
                }
            }
            var answers = [Answer?](repeating: nil, count: count)
            for try await (i, answer) in group { answers[i] = answer }
            return answers.map { $0! }
        }
        for (i, answer) in answers.enumerated() {
            XCTAssertEqual(answer.status, 200, answer.text)
            let prediction = try XCTUnwrap((try answer.json()["predictions"] as? [[String: Any]])?.first)
            let got = try XCTUnwrap(prediction["top"] as? [[String: Any]])
            let want = try XCTUnwrap(expected[i]["top"] as? [[String: Any]])
            XCTAssertEqual(got.map { $0["class"] as? String }, want.map { $0["class"] as? String }, "image \(i)")
            for (g, w) in zip(got, want) {
                XCTAssertEqual(try XCTUnwrap(g["probability"] as? Double), try XCTUnwrap(w["probability"] as? Double),
                               accuracy: 1e-5, "image \(i)")
            }
        }

        // Batching, seen from outside: fewer forward passes than requests, none over --max-batch.
        let metrics = try await Client.get("\(base)/metrics").text
        let batches = try XCTUnwrap(Self.value(of: "petal_batch_size_count{model=\"flowers\"}", in: metrics))
        XCTAssertEqual(Self.value(of: "petal_batch_size_sum{model=\"flowers\"}", in: metrics), Double(count))
        XCTAssertEqual(Self.value(of: "petal_images_classified_total{model=\"flowers\"}", in: metrics), Double(count))
        XCTAssertLessThan(batches, Double(count), "64 concurrent requests should share forward passes:\n\(metrics)")
        XCTAssertEqual(Self.value(of: "petal_batch_size_bucket{model=\"flowers\",le=\"16\"}", in: metrics), batches,
                       "no batch over --max-batch 16")
        XCTAssertEqual(Self.value(of: "petal_http_requests_total{route=\"/v1/models/{name}/predict\",code=\"200\"}", in: metrics),
                       Double(count))
        await server.stop()
    }

    func testFullQueueGets503WithRetryAfter() async throws {
        let model = try TinyModel(label: "serve-queue")
        defer { model.remove() }
        // Batches wait up to 1.5 s for 64 images, so two queued images fill a queue of 2.
        let server = try await RunningServer(models: [("flowers", model.file)]) {
            $0.maxBatch = 64
            $0.maxDelay = .milliseconds(1500)
            $0.maxQueue = 2
        }
        let url = "\(server.base)/v1/models/flowers/predict"
        let jpeg = try TestImages.jpeg(1)
        async let first = Client.post(url, jpeg, contentType: "image/jpeg")
        async let second = Client.post(url, jpeg, contentType: "image/jpeg")
        // Wait until both are queued, as /metrics shows.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let depth = Self.value(of: "petal_queue_depth{model=\"flowers\"}", in: try await Client.get("\(server.base)/metrics").text)
            if depth == 2 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let refused = try await Client.post(url, jpeg, contentType: "image/jpeg")
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.header("Retry-After"), "1")
        XCTAssertTrue(refused.error?.contains("queue full") ?? false, refused.text)
        let (a, b) = try await (first, second)
        XCTAssertEqual(a.status, 200, a.text)
        XCTAssertEqual(b.status, 200, b.text)
        let metrics = try await Client.get("\(server.base)/metrics").text
        XCTAssertEqual(Self.value(of: "petal_batch_size_bucket{model=\"flowers\",le=\"2\"}", in: metrics), 1,
                       "the two queued requests ran as one batch:\n\(metrics)")
        await server.stop()
    }

    /// The value of one Prometheus sample line.
    static func value(of sample: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }
}
