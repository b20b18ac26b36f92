import ArgumentParser
import Foundation
import PetalCore
import PetalData

/// `petal data`: look at a dataset folder before training on it.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect image datasets (one sub-folder per class).",
        subcommands: [Inspect.self, AuditCommand.self, Benchmark.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count images per class, list image sizes, and find broken files, duplicates, empty classes and imbalance.",
            discussion: "Exits with status 1 when some image files do not decode (after printing the report).")

        @Argument(help: "A folder with one sub-folder of images per class.")
        var directory: String

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() throws {
            let folder = try ImageFolder(URL(fileURLWithPath: directory))
            let report = DatasetInspection.inspect(folder)
            if json {
                print(String(decoding: try PetalJSON.encode(report), as: UTF8.self))
            } else {
                print(report.text)
            }
            // Scripts can stop before training on a dataset with broken files.
            if !report.failures.isEmpty { throw ExitCode.failure }
        }
    }

    /// Hidden: measures how fast the loader delivers augmented batches (benchmarks/loader_benchmark.sh).
    struct Benchmark: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure image decoding and augmented batch throughput.", shouldDisplay: false)

        @Argument(help: "A folder with one sub-folder of images per class.")
        var directory: String

        @Option(help: "Input size (square).") var size = 224
        @Option(help: "Batch size.") var batchSize = 32
        @Option(help: "Batches to time.") var batches = 100
        @Option(help: "Background workers.") var workers = 2
        @Option(help: "Use at most this many images (0: all).") var limit = 0

        func run() throws {
            let folder = try ImageFolder(URL(fileURLWithPath: directory))
            var files = folder.items
            if limit > 0 && files.count > limit {
                var rng = SplitMix64(seed: 1)
                rng.shuffle(&files)
                files = Array(files.prefix(limit))
            }
            let rssBefore = residentBytes()
            var start = Date()
            let decodeCPUStart = cpuSeconds()
            let cache = try ImageCache(files: files, size: (size, size))
            let decodeSeconds = Date().timeIntervalSince(start)
            let decodeCPU = cpuSeconds() - decodeCPUStart
            let rssAfter = residentBytes()
            print("decoded \(cache.count) images at \(size)x\(size) in \(String(format: "%.2f", decodeSeconds)) s "
                  + "(\(String(format: "%.0f", Double(cache.count) / decodeSeconds)) images/s, \(ProcessInfo.processInfo.activeProcessorCount) cores; "
                  + "\(String(format: "%.2f", decodeCPU * 1000 / Double(max(cache.count, 1)))) ms CPU per image), \(cache.failures.count) failures")
            let perThousand = Double(cache.bytesPerImage) * 1000 / 1e6
            print(String(format: "cache memory: %.1f MB per 1000 images (pixels); process RSS grew %.1f MB for %d images (%.1f MB per 1000)",
                         perThousand, Double(rssAfter - rssBefore) / 1e6, cache.count,
                         Double(rssAfter - rssBefore) / 1e6 * 1000 / Double(max(cache.count, 1))))

            let loader = BatchLoader(cache: cache, batchSize: batchSize, shuffle: true, augmentation: .standard,
                                     normalization: .minusOneToOne, seed: 42, workers: workers)
            try loader.checkBatchFits()
            var images = 0, done = 0, epoch = 0
            start = Date()
            let cpuStart = cpuSeconds()
            outer: while true {
                for batch in loader.epoch(epoch) {
                    images += batch.count
                    done += 1
                    if done >= batches { break outer }
                }
                epoch += 1
            }
            let seconds = Date().timeIntervalSince(start)
            let cpu = cpuSeconds() - cpuStart
            print(String(format: "augmented batches: %d batches of %d at %dx%d in %.2f s = %.0f images/s (%d workers); "
                         + "%.2f ms CPU per image = %.0f images per CPU-second",
                         done, batchSize, size, size, seconds, Double(images) / seconds, workers,
                         cpu * 1000 / Double(images), Double(images) / cpu))
        }

        /// CPU time of the whole process (all threads), so results mean something on a busy machine.
        private func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }

        private func residentBytes() -> Int {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
                return kb * 1024
            }
            return 0
        }
    }
}
