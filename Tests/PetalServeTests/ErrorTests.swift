import Foundation
import PetalData
import PetalServe
import PetalTestSupport
import XCTest

/// Bad requests get clear JSON errors with the right status, and the server keeps serving.
final class ErrorTests: XCTestCase {
    var model: TinyModel!
    var server: RunningServer!

    override func setUp() async throws {
        model = try TinyModel(label: "serve-errors")
        server = try await RunningServer(models: [("flowers", model.file)]) {
            $0.maxBodyBytes = 256 * 1024
            $0.maxMegapixels = 0.01  // 10,000 pixels: a 200 x 100 image is over it
        }
    }

    override func tearDown() async throws {
        await server?.stop()
        model?.remove()
    }

    private var predict: String { "\(server.base)/v1/models/flowers/predict" }

    private func assertError(_ answer: Answer, _ status: Int, mentions words: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(answer.status, status, answer.text, file: file, line: line)
        XCTAssertEqual(answer.header("Content-Type"), "application/json", file: file, line: line)
        let message = answer.error ?? ""
        for word in words { XCTAssertTrue(message.contains(word), "'\(message)' should mention '\(word)'", file: file, line: line) }
    }

    func testBodyOverTheLimitGets413() async throws {
        let big = Data(repeating: 0xFF, count: 300 * 1024)
        assertError(try await Client.post(predict, big, contentType: "image/jpeg"), 413, mentions: ["--max-body-mb"])
        let (body, type) = Client.multipart([("photos", "big.jpg", "image/jpeg", big)])
        assertError(try await Client.post(predict, body, contentType: type), 413, mentions: ["limit"])
        try await assertStillServing()
    }

    func testNonImagesGet415NamingThePart() async throws {
        assertError(try await Client.post(predict, Data("hello".utf8), contentType: "text/plain"), 415, mentions: ["text/plain"])
        assertError(try await Client.post(predict, Data("hello".utf8), contentType: "image/jpeg"), 415,
                    mentions: ["'body'", "not a JPEG or PNG"])
        let (body, type) = Client.multipart([("photos", "ok.jpg", "image/jpeg", try TestImages.jpeg(1)),
                                             ("photos", "notes.txt", "text/plain", Data("not an image".utf8))])
        assertError(try await Client.post(predict, body, contentType: type), 415, mentions: ["notes.txt"])
        try await assertStillServing()
    }

    func testTruncatedImageGets400NamingThePart() async throws {
        let jpeg = try TestImages.jpeg(2)
        let (body, type) = Client.multipart([("photos", "cut.jpg", "image/jpeg", jpeg.prefix(jpeg.count / 3))])
        assertError(try await Client.post(predict, body, contentType: type), 400, mentions: ["cut.jpg"])
        let png = try TestImages.png(2)
        assertError(try await Client.post(predict, png.prefix(png.count / 2), contentType: "image/png"), 400, mentions: ["'body'"])
        // A multipart body without its closing boundary.
        assertError(try await Client.post(predict, body.prefix(body.count - 10), contentType: type), 400, mentions: ["truncated"])
        try await assertStillServing()
    }

    func testImageOverTheMegapixelLimitGets422() async throws {
        let large = try PNGEncoder.encode(TestImages.image(3, width: 200, height: 100))
        assertError(try await Client.post(predict, large, contentType: "image/png"), 422, mentions: ["200x100", "megapixels"])
        let fp32 = try JSONSerialization.data(withJSONObject: ["inputs": [[
            "name": "pixels", "datatype": "FP32", "shape": [1, 100, 200, 3], "data": [Double](repeating: 1, count: 60_000)]]])
        assertError(try await Client.post("\(server.base)/v2/models/flowers/infer", fp32, contentType: "application/json"),
                    422, mentions: ["megapixels"])
    }

    func testUnknownModelsAndRoutesGet404() async throws {
        assertError(try await Client.post("\(server.base)/v1/models/roses/predict", try TestImages.jpeg(1), contentType: "image/jpeg"),
                    404, mentions: ["'roses'"])
        assertError(try await Client.get("\(server.base)/v2/models/roses"), 404, mentions: ["'roses'"])
        assertError(try await Client.get("\(server.base)/v2/models/roses/ready"), 404, mentions: ["'roses'"])
        assertError(try await Client.post("\(server.base)/v2/models/roses/infer", Data("{}".utf8), contentType: "application/json"),
                    404, mentions: ["'roses'"])
        assertError(try await Client.get("\(server.base)/v3/nothing"), 404, mentions: ["/v3/nothing"])
    }

    func testWrongTensorsAndBadQueriesGet400() async throws {
        let infer = "\(server.base)/v2/models/flowers/infer"
        func post(_ object: [String: Any]) async throws -> Answer {
            try await Client.post(infer, try JSONSerialization.data(withJSONObject: object), contentType: "application/json")
        }
        assertError(try await post(["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1, 32, 32],
                                                "data": [Double](repeating: 0, count: 1024)]]]), 400, mentions: ["[N, H, W, 3]"])
        assertError(try await post(["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1, 2, 2, 3],
                                                "data": [Double](repeating: 0, count: 11)]]]), 400, mentions: ["11 values"])
        assertError(try await post(["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1, 2, 2, 3],
                                                "data": [Double](repeating: 300, count: 12)]]]), 400, mentions: ["0-255"])
        assertError(try await post(["inputs": [["name": "pixels", "datatype": "INT8", "shape": [1, 2, 2, 3],
                                                "data": [Int](repeating: 0, count: 12)]]]), 400, mentions: ["INT8"])
        assertError(try await post(["inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "data": ["%%%"]]]]),
                    400, mentions: ["base64"])
        assertError(try await post(["inputs": [["name": "pixels", "datatype": "FP32", "shape": [1, 1 << 40, 1 << 40, 3],
                                                "data": [0]]]]), 400, mentions: ["more elements"])
        assertError(try await post(["inputs": []]), 400, mentions: ["exactly one input"])
        assertError(try await post(["inputs": [["name": "image", "datatype": "BYTES", "shape": [1],
                                                "data": [try TestImages.jpeg(1).base64EncodedString()]]],
                                    "outputs": [["name": "logits"]]]), 400, mentions: ["logits"])
        assertError(try await Client.post(infer, Data("{\"inputs\": [".utf8), contentType: "application/json"), 400, mentions: ["JSON"])
        assertError(try await Client.post("\(predict)?top=0", try TestImages.jpeg(1), contentType: "image/jpeg"), 400, mentions: ["top"])
        try await assertStillServing()
    }

    func testSlowClientIsDisconnected() async throws {
        await server.stop()
        server = try await RunningServer(models: [("flowers", model.file)]) { $0.idleTimeout = .milliseconds(500) }
        // Headers that promise a body which never comes.
        let socket = try LoopbackSocket(port: server.port)
        try socket.send("POST /v1/models/flowers/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\nabc")
        let start = Date()
        let closed = socket.waitForClose(timeout: 10)
        XCTAssertTrue(closed, "the server should close a silent connection")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        try await assertStillServing()
    }

    private func assertStillServing(file: StaticString = #filePath, line: UInt = #line) async throws {
        let answer = try await Client.post(predict, try TestImages.jpeg(9), contentType: "image/jpeg")
        XCTAssertEqual(answer.status, 200, answer.text, file: file, line: line)
    }
}

/// A bare TCP connection to 127.0.0.1, to behave as a slow client.
final class LoopbackSocket {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw ServeError.internal("cannot connect to port \(port)") }
    }

    deinit { close(descriptor) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, 0) == bytes.count else { throw ServeError.internal("send failed") }
    }

    /// True once the peer closes (a read returns 0 or fails) within `timeout` seconds.
    func waitForClose(timeout: Double) -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            guard poll(&poller, 1, 100) > 0 else { continue }
            if recv(descriptor, &buffer, buffer.count, 0) <= 0 { return true }
        }
        return false
    }
}
