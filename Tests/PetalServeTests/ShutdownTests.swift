import Foundation
import PetalServe
import PetalTestSupport
import Synchronization
import XCTest

/// `petal serve` as a user runs it: start-up banner, one log line per request, and SIGTERM
/// finishing the requests in flight before exiting 0.
final class ShutdownTests: XCTestCase {
    func testSIGTERMFinishesRequestsInFlightAndExitsZero() async throws {
        let model = try TinyModel(label: "serve-shutdown")
        defer { model.remove() }
        // Batches wait up to 1.5 s, so requests are still in flight when SIGTERM arrives.
        let serve = try ServeProcess(["serve", model.file.path, "--port", "0", "--max-delay-ms", "1500", "--max-batch", "64"])
        defer { serve.terminate() }
        let base = try await serve.waitForURL()
        XCTAssertTrue(serve.output.contains("model 'flowers'"), serve.output)
        XCTAssertTrue(serve.output.contains("daisy, rose, tulip"), serve.output)

        let jpeg = try TestImages.jpeg(3)
        let requests = Task {
            try await withThrowingTaskGroup(of: Answer.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await Client.post("\(base)/v1/models/flowers/predict", jpeg, contentType: "image/jpeg") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let metrics = try await Client.get("\(base)/metrics").text
            if BatchingTests.value(of: "petal_queue_depth{model=\"flowers\"}", in: metrics) == 8 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        serve.signal(SIGTERM)
        let answers = try await requests.value
        XCTAssertEqual(answers.map(\.status), Array(repeating: 200, count: 8), answers.map(\.text).joined(separator: "\n"))
        let status = try await serve.waitForExit(timeout: 20)
        XCTAssertEqual(status, 0, serve.output)
        XCTAssertTrue(serve.output.contains("POST /v1/models/flowers/predict 200"), "one log line per request:\n\(serve.output)")
        XCTAssertTrue(serve.output.contains("petal serve: stopped"), serve.output)
        let port = Int(base.split(separator: ":").last!)!
        XCTAssertThrowsError(try LoopbackSocket(port: port), "the stopped server still accepts connections")
    }

    func testBadModelFailsAtStartWithAMessage() throws {
        let result = try PetalProcess.run(["serve", "/nonexistent/model.safetensors", "--port", "0"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("/nonexistent/model.safetensors"), result.output)
    }

    func testBusyPortFailsAtStartNamingIt() async throws {
        let model = try TinyModel(label: "serve-port")
        defer { model.remove() }
        let first = try await RunningServer(models: [("flowers", model.file)])
        let result = try PetalProcess.run(["serve", model.file.path, "--port", "\(first.port)"])
        await first.stop()
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("cannot listen on 127.0.0.1:\(first.port)"), result.output)
    }
}

/// The built `petal` binary running in the background, its output collected.
final class ServeProcess: Sendable {
    /// The output so far (a class, so the pipe's handler and the test share it).
    final class Output: Sendable { let text = Mutex("") }

    private let process: Process
    private let collected = Output()

    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = PetalProcess.executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let collected = collected
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            collected.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        self.process = process
    }

    var output: String { collected.text.withLock { $0 } }

    /// The URL from the start-up banner.
    func waitForURL(timeout: Double = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let range = output.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                return String(output[range])
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServeError.internal("petal serve printed no URL:\n\(output)")
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    func waitForExit(timeout: Double) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        guard !process.isRunning else { throw ServeError.internal("petal serve did not exit:\n\(output)") }
        return process.terminationStatus
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }
}
