import ArgumentParser
import Foundation
import PetalCore
import PetalData

/// `petal data`: look at a dataset folder before training on it.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect image datasets (one sub-folder per class).",
        subcommands: [Inspect.self, Benchmark.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count images per class, list image sizes, and find broken files, duplicates, empty classes and imbalance.")

        @Argument(help: "A folder with one sub-folder of images per class.")
        var directory: String

        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() throws {
            let folder = try ImageFolder(URL(fileURLWithPath: directory))
            let report = DatasetInspection.inspect(folder)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.text)
            }
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
            let cache = try ImageCache(files: files, size: (size, size))
            let decodeSeconds = Date().timeIntervalSince(start)
            let rssAfter = residentBytes()
            print("decoded \(cache.count) images at \(size)x\(size) in \(String(format: "%.2f", decodeSeconds)) s "
                  + "(\(String(format: "%.0f", Double(cache.count) / decodeSeconds)) images/s, \(ProcessInfo.processInfo.activeProcessorCount) cores), \(cache.failures.count) failures")
            let perThousand = Double(cache.bytesPerImage) * 1000 / 1e6
            print(String(format: "cache memory: %.1f MB per 1000 images (pixels); process RSS grew %.1f MB for %d images (%.1f MB per 1000)",
                         perThousand, Double(rssAfter - rssBefore) / 1e6, cache.count,
                         Double(rssAfter - rssBefore) / 1e6 * 1000 / Double(max(cache.count, 1))))

            let loader = BatchLoader(cache: cache, batchSize: batchSize, shuffle: true, augmentation: .standard,
                                     normalization: .minusOneToOne, seed: 42, workers: workers)
            var images = 0, done = 0, epoch = 0
            start = Date()
            outer: while true {
                for batch in loader.epoch(epoch) {
                    images += batch.count
                    done += 1
                    if done >= batches { break outer }
                }
                epoch += 1
            }
            let seconds = Date().timeIntervalSince(start)
            print(String(format: "augmented batches: %d batches of %d at %dx%d in %.2f s = %.0f images/s (%d workers)",
                         done, batchSize, size, size, seconds, Double(images) / seconds, workers))
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
