import ArgumentParser
import Foundation
import PetalInference
import PetalServe
import Synchronization

/// `petal serve`: trained models over HTTP (PetalServe does the work).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve trained models over HTTP: Petal's API, the Open Inference Protocol (KServe v2), an upload page.",
        discussion: """
        petal serve runs/flowers-efficientnet-lite0-...              one model, named after its run folder
        petal serve a.safetensors b.safetensors --name roses --name dogs
        curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg http://127.0.0.1:8080/v1/models/NAME/predict
        SIGINT or SIGTERM stop accepting, finish the requests in flight, and exit 0.
        """)

    @Argument(help: "Models to serve: run folders or .safetensors files written by petal train.")
    var models: [String]
    @Option(help: "A model's name in URLs, once per model in order (default: the file's or run folder's name).")
    var name: [String] = []
    @Option(help: "Address to listen on (0.0.0.0 for every interface).") var host = "127.0.0.1"
    @Option(parsing: .unconditional, help: "Port to listen on (0: any free port, printed at start-up).") var port = 8080
    @Option(parsing: .unconditional, help: "Images per forward pass, at most.") var maxBatch = 32
    @Option(parsing: .unconditional, help: "Milliseconds the first queued image waits for others before its batch runs.") var maxDelayMs = 5.0
    @Option(parsing: .unconditional, help: "Images waiting per model, at most; beyond it requests get 503 with Retry-After.") var maxQueue = 256
    @Option(parsing: .unconditional, help: "Largest request body, in MB (413 beyond).") var maxBodyMb = 20.0
    @Option(parsing: .unconditional, help: "Largest image, in megapixels (422 beyond).") var maxMegapixels = 40.0
    @Option(parsing: .unconditional, help: "Seconds a connection may stay silent (an idle or slow client) before it is closed.") var idleTimeout = 30.0
    @Option(parsing: .unconditional, help: "Classes per image when a request gives no ?top=K.") var top = 5
    @Flag(help: "Do not log a line per request.") var quiet = false
    @Option(help: "Test-time augmentation: \(TestTimeAugmentation.names) (flip: the mean of the probabilities of each image and its mirror).")
    var tta = TestTimeAugmentation.none.rawValue

    func validate() throws {
        try checkTTA(tta)
        if !name.isEmpty && name.count != models.count {
            throw ValidationError("give --name once per model (\(models.count) models, \(name.count) names)")
        }
        // Numbers parse unconditionally (see TrainCommand), so a negative one reaches these checks.
        if !(0...65535).contains(port) { throw ValidationError("--port must be from 0 to 65535 (got \(port))") }
        for (option, value) in [("--top", top), ("--max-batch", maxBatch), ("--max-queue", maxQueue)]
        where !(1...1_000_000).contains(value) {
            throw ValidationError("\(option) must be a whole number from 1 to 1000000 (got \(value))")
        }
        // Converted to whole units below: they must be finite and of a sensible size.
        for (option, value) in [("--max-delay-ms", maxDelayMs), ("--max-body-mb", maxBodyMb),
                                ("--max-megapixels", maxMegapixels), ("--idle-timeout", idleTimeout)]
        where !(value.isFinite && value >= 0 && value <= 1e6) {
            throw ValidationError("\(option) must be a number from 0 to 1000000 (got \(value))")
        }
    }

    func run() throws {
        Self.restartWithPassiveOpenMPWait()
        var configuration = ServeConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.maxBatch = maxBatch
        configuration.maxDelay = .microseconds(Int64((maxDelayMs * 1000).rounded()))
        configuration.maxQueue = maxQueue
        configuration.maxBodyBytes = Int(maxBodyMb * 1_048_576)
        configuration.maxMegapixels = maxMegapixels
        configuration.idleTimeout = .milliseconds(Int64((idleTimeout * 1000).rounded()))
        configuration.defaultTop = top
        configuration.quiet = quiet
        configuration.testTimeAugmentation = augmentation
        let urls = models.map { URL(fileURLWithPath: $0) }
        let names = name.isEmpty ? urls.map(ServedModel.defaultName(for:)) : name
        let server = try PetalServer(models: Array(zip(names, urls)), configuration: configuration)

        // The command is synchronous (petal's root command is): the server runs in a task and
        // this thread waits for it to end.
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run { port in FileHandle.standardOutput.write(Data((server.banner(port: port) + "\n").utf8)) }
            } catch {
                failure.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        print("petal serve: stopped")
    }

    /// oneDNN's OpenMP threads spin for a while after each forward pass by default, taking both
    /// cores of a small machine from the threads that read requests and decode images (measured:
    /// 4x fewer requests/s at concurrency 8). libgomp reads OMP_WAIT_POLICY only when it loads, so
    /// petal serve restarts itself once with passive waiting unless the variable is already set.
    static func restartWithPassiveOpenMPWait() {
        guard ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when exec fails: serve as we are.
    }
}
