import Foundation
import PetalData
import PetalInference

/// A model served under a name, with its own batching queue.
public struct ServedModel: Sendable {
    public let name: String
    public let classifier: ImageClassifier
    let batcher: InferenceBatcher

    /// The name a model is served under when --name does not say: the file's name without its
    /// extension, or the run folder's name (a run folder's `model.safetensors` is named by its folder).
    public static func defaultName(for url: URL) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return url.standardizedFileURL.lastPathComponent
        }
        let stem = url.deletingPathExtension().lastPathComponent
        if stem == "model" || stem == "best" {
            return url.standardizedFileURL.deletingLastPathComponent().lastPathComponent
        }
        return stem
    }

    init(name: String, classifier: ImageClassifier, configuration: ServeConfiguration, metrics: ServeMetrics) {
        self.name = name
        self.classifier = classifier
        batcher = InferenceBatcher(model: name, classifier: classifier, configuration: configuration, metrics: metrics)
    }

    /// One uploaded image decoded to the model's input size. Errors name the part: 415 for bytes
    /// that are not a JPEG or PNG, 422 for an image over the megapixel limit, 400 for a
    /// truncated or corrupt image.
    func decode(_ data: Data, part: String, maxPixels: Int) throws(ServeError) -> RGBImage {
        guard Self.isImage(data) else {
            let head = data.prefix(8).map { String(format: "%02X", $0) }.joined(separator: " ")
            throw .unsupportedMediaType(data.isEmpty ? "image '\(part)' is empty (0 bytes)"
                                                     : "'\(part)' is not a JPEG or PNG image (it starts with bytes \(head))")
        }
        do {
            // The decode ImageClassifier.decode(.encoded) runs, with the server's pixel limit.
            return try ImageDecoder.decode(data, path: part, width: classifier.inputSize, height: classifier.inputSize,
                                           maxPixels: maxPixels)
        } catch let DataError.tooLarge(_, width, height, limit) {
            throw .imageTooLarge(part: part, width: width, height: height, limitMegapixels: Double(limit) / 1e6)
        } catch let DataError.undecodable(_, reason) {
            throw .undecodableImage(part: part, reason: reason)
        } catch {
            throw .undecodableImage(part: part, reason: "\(error)")
        }
    }

    /// Decodes several uploads at once (each on its own task), in their order.
    func decode(_ parts: [(label: String, data: Data)], maxPixels: Int) async throws(ServeError) -> [RGBImage] {
        if parts.count == 1 { return [try decode(parts[0].data, part: parts[0].label, maxPixels: maxPixels)] }
        do {
            return try await withThrowingTaskGroup(of: (Int, RGBImage).self) { group in
                for (index, part) in parts.enumerated() {
                    group.addTask { (index, try decode(part.data, part: part.label, maxPixels: maxPixels)) }
                }
                var images = [RGBImage?](repeating: nil, count: parts.count)
                for try await (index, image) in group { images[index] = image }
                return images.map { $0! }
            }
        } catch let error as ServeError {
            throw error
        } catch {
            throw .internal("\(error)")
        }
    }

    /// JPEG or PNG by their first bytes (whatever the Content-Type claims).
    static func isImage(_ data: Data) -> Bool {
        data.starts(with: [0xFF, 0xD8, 0xFF]) || data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    /// Probabilities for decoded images, batched with other requests' images.
    func probabilities(_ images: [RGBImage]) async throws(ServeError) -> [[Float]] {
        do {
            return try await batcher.probabilities(images)
        } catch let error as ServeError {
            throw error
        } catch {
            throw .internal("\(error)")
        }
    }
}
