import Dispatch
import Foundation

/// Decoded images held in memory at the model's input size (8-bit RGB, one contiguous
/// block), decoded once in parallel. Files that fail are skipped and listed in `failures`.
public final class ImageCache: @unchecked Sendable {  // unchecked: pixels written only in init, then read
    public let width: Int
    public let height: Int
    /// The decoded files (failures removed), in the order given.
    public let files: [LabeledFile]
    public let failures: [DecodeFailure]
    private let storage: UnsafeMutablePointer<UInt8>

    public var count: Int { files.count }
    public var labels: [Int] { files.map(\.label) }
    public var bytesPerImage: Int { width * height * 3 }
    /// Bytes held for the pixels.
    public var byteCount: Int { count * bytesPerImage }

    /// Decodes `files` at `size` (width, height) using `threads` threads (default: all cores).
    /// Throws `DataError.noImages` when the list is not empty but nothing decodes.
    public init(files: [LabeledFile], size: (width: Int, height: Int), threads: Int? = nil,
                maxPixels: Int = ImageDecoder.defaultMaxPixels) throws {
        let (w, h) = size
        precondition(w > 0 && h > 0, "ImageCache: size \(w)x\(h)")
        width = w
        height = h
        let per = w * h * 3
        let n = files.count
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n * per, 1))
        let reasons = UnsafeMutablePointer<DecodeFailure?>.allocate(capacity: max(n, 1))
        reasons.initialize(repeating: nil, count: max(n, 1))
        defer { reasons.deinitialize(count: max(n, 1)); reasons.deallocate() }
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, max(n, 1)))
        let counter = AtomicCounter()
        // Each worker takes the next file index; every slot is written by one worker only.
        nonisolated(unsafe) let (pixelSlots, reasonSlots) = (buffer, reasons)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = counter.next()
                if i >= n { break }
                do {
                    let image = try ImageDecoder.decode(contentsOf: files[i].url, width: w, height: h, maxPixels: maxPixels)
                    image.pixels.withUnsafeBufferPointer { (pixelSlots + i * per).update(from: $0.baseAddress!, count: per) }
                } catch {
                    reasonSlots[i] = DecodeFailure(url: files[i].url, error: error)
                }
            }
        }
        // Compact the successful images to the front.
        var kept: [LabeledFile] = []
        var failed: [DecodeFailure] = []
        kept.reserveCapacity(n)
        for i in 0..<n {
            if let f = reasons[i] { failed.append(f); continue }
            if kept.count != i { (buffer + kept.count * per).update(from: buffer + i * per, count: per) }
            kept.append(files[i])
        }
        self.files = kept
        self.failures = failed
        self.storage = buffer
        if n > 0 && kept.isEmpty {
            // All properties are set, so deinit runs and frees the buffer.
            let first = failed.first.map { " (first: \($0))" } ?? ""
            throw DataError.noImages("none of the \(n) images could be decoded\(first)")
        }
    }

    /// Same, with a square size.
    public convenience init(files: [LabeledFile], side: Int, threads: Int? = nil) throws {
        try self.init(files: files, size: (side, side), threads: threads)
    }

    deinit { storage.deallocate() }

    /// The pixels of image `i` (`width * height * 3` bytes, rows top to bottom, RGB).
    public func pixels(_ i: Int) -> UnsafePointer<UInt8> {
        precondition(i >= 0 && i < count, "ImageCache: index \(i) out of 0..<\(count)")
        return UnsafePointer(storage + i * bytesPerImage)
    }

    /// A copy of image `i`.
    public func image(_ i: Int) -> RGBImage {
        RGBImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: pixels(i), count: bytesPerImage)))
    }
}

/// A thread-safe counter for handing out work.
final class AtomicCounter: @unchecked Sendable {  // unchecked: value behind `lock`
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}
