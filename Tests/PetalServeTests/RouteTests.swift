import Foundation
import PetalData
import PetalInference
import PetalServe
import PetalTestSupport
import XCTest

/// Every route of `petal serve`, through a real HTTP client, against ImageClassifier's answers.
final class RouteTests: XCTestCase {
    var model: TinyModel!
    var server: RunningServer!
    var classifier: ImageClassifier!

    override func setUp() async throws {
        model = try TinyModel()
        classifier = try ImageClassifier(contentsOf: model.file)
        server = try await RunningServer(models: [("flowers", model.file)])
    }

    override func tearDown() async throws {
        await server?.stop()
        model?.remove()
    }

    func testHealthReadinessAndModelMetadata() async throws {
        let live = try await Client.get("\(server.base)/v2/health/live")
        XCTAssertEqual(live.status, 200)
        XCTAssertEqual(try live.json()["live"] as? Bool, true)
        let ready = try await Client.get("\(server.base)/v2/health/ready")
        XCTAssertEqual(try ready.json()["ready"] as? Bool, true)
        let modelReady = try await Client.get("\(server.base)/v2/models/flowers/ready")
        XCTAssertEqual(modelReady.status, 200)
        XCTAssertEqual(try modelReady.json()["ready"] as? Bool, true)

        let metadata = try await Client.get("\(server.base)/v2/models/flowers")
        XCTAssertEqual(metadata.status, 200, metadata.text)
        let json = try metadata.json()
        XCTAssertEqual(json["name"] as? String, "flowers")
        let parameters = try XCTUnwrap(json["parameters"] as? [String: Any])
        XCTAssertEqual(parameters["class_names"] as? [String], TinyModel.classNames)
        let inputs = try XCTUnwrap(json["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.map { $0["datatype"] as? String }, ["BYTES", "FP32"])
        XCTAssertEqual(inputs[1]["shape"] as? [Int], [-1, 32, 32, 3])
        let outputs = try XCTUnwrap(json["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs[0]["shape"] as? [Int], [-1, 3])

        let serverMetadata = try await Client.get("\(server.base)/v2")
        XCTAssertEqual(try serverMetadata.json()["name"] as? String, "petal")
    }

    func testPredictAnswersEachImagesTopClassesAsTheClassifierDoes() async throws {
        let jpeg = try TestImages.jpeg(1), png = try TestImages.png(2)
        let single = try await Client.post("\(server.base)/v1/models/flowers/predict?top=2", jpeg, contentType: "image/jpeg")
        XCTAssertEqual(single.status, 200, single.text)
        try assertPredictions(single, equal: [("body", jpeg)], top: 2)

        let pngAnswer = try await Client.post("\(server.base)/v1/models/flowers/predict", png, contentType: "image/png")
        try assertPredictions(pngAnswer, equal: [("body", png)], top: 3)

        let (body, type) = Client.multipart([("note", nil, nil, Data("not a file".utf8)),
                                             ("photos", "one.jpg", "image/jpeg", jpeg),
                                             ("photos", "two.png", "image/png", png),
                                             ("photos", "three.jpg", "image/jpeg", try TestImages.jpeg(3))])
        let multi = try await Client.post("\(server.base)/v1/models/flowers/predict?top=1", body, contentType: type)
        XCTAssertEqual(multi.status, 200, multi.text)
        try assertPredictions(multi, equal: [("one.jpg", jpeg), ("two.png", png), ("three.jpg", try TestImages.jpeg(3))], top: 1)
        XCTAssertNotNil(try multi.json()["time_ms"] as? Double)
    }

    func testInferWithEncodedImagesFloatPixelsAndBinaryTensors() async throws {
        let images = [try TestImages.jpeg(4), try TestImages.png(5)]
        let expected = try images.map { try classifier.classify(.encoded($0, name: "x"), top: 1) }
        let bytesRequest: [String: Any] = ["id": "req-1", "inputs": [[
            "name": "image", "datatype": "BYTES", "shape": [2], "data": images.map { $0.base64EncodedString() }]]]
        let bytes = try await infer(bytesRequest)
        XCTAssertEqual(bytes.status, 200, bytes.text)
        try assertInfer(bytes, equal: expected)
        XCTAssertEqual(try bytes.json()["id"] as? String, "req-1")

        // FP32 [N, H, W, 3] in 0-255, nested as JSON arrays; at another size, so resized.
        let pixels = TestImages.image(6, width: 20, height: 24)
        let nested = (0..<24).map { y in (0..<20).map { x in (0..<3).map { Double(pixels.pixels[(y * 20 + x) * 3 + $0]) } } }
        let fp32 = try await infer(["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1, 24, 20, 3], "data": [nested]]],
                                    "outputs": [["name": "classes"]]])
        XCTAssertEqual(fp32.status, 200, fp32.text)
        let outputs = try XCTUnwrap(try fp32.json()["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.count, 1)
        XCTAssertEqual(outputs[0]["data"] as? [String], [try classifier.classify(.pixels(pixels), top: 1).top[0].className])

        // Triton's binary-data extension (what tritonclient sends): JSON, then length-prefixed BYTES.
        var tensor = Data()
        for image in images {
            withUnsafeBytes(of: UInt32(image.count).littleEndian) { tensor.append(contentsOf: $0) }
            tensor.append(image)
        }
        let header = try JSONSerialization.data(withJSONObject: ["inputs": [[
            "name": "image", "datatype": "BYTES", "shape": [2], "parameters": ["binary_data_size": tensor.count]]]])
        let binary = try await Client.post("\(server.base)/v2/models/flowers/infer", header + tensor,
                                           contentType: "application/octet-stream",
                                           headers: [("Inference-Header-Content-Length", "\(header.count)")])
        XCTAssertEqual(binary.status, 200, binary.text)
        try assertInfer(binary, equal: expected)
    }

    func testUploadPageIsSelfContained() async throws {
        let page = try await Client.get("\(server.base)/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        XCTAssertTrue(page.header("Content-Security-Policy")?.contains("default-src 'none'") ?? false)
        XCTAssertTrue(page.text.contains("\"name\":\"flowers\""), "the page lists the served model")
        for external in ["src=\"http", "href=\"http", "url(http", "import("] {
            XCTAssertFalse(page.text.contains(external), "the page loads nothing from elsewhere (\(external))")
        }
    }

    func testMetricsCountRequestsByRouteAndStatus() async throws {
        _ = try await Client.post("\(server.base)/v1/models/flowers/predict", try TestImages.jpeg(1), contentType: "image/jpeg")
        _ = try await Client.get("\(server.base)/v2/models/nope")
        let metrics = try await Client.get("\(server.base)/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") ?? false)
        let text = metrics.text
        XCTAssertTrue(text.contains("petal_http_requests_total{route=\"/v1/models/{name}/predict\",code=\"200\"} 1"), text)
        XCTAssertTrue(text.contains("petal_http_requests_total{route=\"/v2/models/{name}\",code=\"404\"} 1"), text)
        XCTAssertTrue(text.contains("petal_http_request_duration_seconds_count{route=\"/v1/models/{name}/predict\"} 1"), text)
        XCTAssertTrue(text.contains("petal_images_classified_total{model=\"flowers\"} 1"), text)
        XCTAssertTrue(text.contains("petal_batch_size_bucket{model=\"flowers\",le=\"1\"} 1"), text)
        XCTAssertTrue(text.contains("petal_queue_depth{model=\"flowers\"} 0"), text)
    }

    // MARK: helpers

    private func infer(_ request: [String: Any]) async throws -> Answer {
        try await Client.post("\(server.base)/v2/models/flowers/infer", try JSONSerialization.data(withJSONObject: request),
                              contentType: "application/json")
    }

    private func assertPredictions(_ answer: Answer, equal images: [(String, Data)], top: Int,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let predictions = try XCTUnwrap(try answer.json()["predictions"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(predictions.count, images.count, file: file, line: line)
        for (prediction, (name, data)) in zip(predictions, images) {
            XCTAssertEqual(prediction["image"] as? String, name, file: file, line: line)
            let expected = try classifier.classify(.encoded(data, name: name), top: top).top
            let got = try XCTUnwrap(prediction["top"] as? [[String: Any]], file: file, line: line)
            XCTAssertEqual(got.map { $0["class"] as? String }, expected.map(\.className), file: file, line: line)
            for (g, e) in zip(got, expected) {
                XCTAssertEqual(try XCTUnwrap(g["probability"] as? Double), Double(e.probability), accuracy: 1e-5, file: file, line: line)
            }
        }
    }

    private func assertInfer(_ answer: Answer, equal expected: [Classification],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let outputs = try XCTUnwrap(try answer.json()["outputs"] as? [[String: Any]], file: file, line: line)
        let probabilities = try XCTUnwrap(outputs.first { $0["name"] as? String == "probabilities" }, file: file, line: line)
        XCTAssertEqual(probabilities["shape"] as? [Int], [expected.count, 3], file: file, line: line)
        let values = try XCTUnwrap(probabilities["data"] as? [Double], file: file, line: line)
        XCTAssertEqual(values.count, expected.count * 3, file: file, line: line)
        for (got, want) in zip(values, expected.flatMap(\.probabilities)) {
            XCTAssertEqual(got, Double(want), accuracy: 1e-5, file: file, line: line)
        }
        let classes = try XCTUnwrap(outputs.first { $0["name"] as? String == "classes" }, file: file, line: line)
        XCTAssertEqual(classes["data"] as? [String], expected.map { $0.top[0].className }, file: file, line: line)
    }
}
