import Foundation
import PetalData

/// One image to classify: a file, encoded JPEG/PNG bytes, or decoded RGB pixels.
public enum ImageInput: Sendable {
    case file(URL)
    /// JPEG or PNG bytes; `name` names the image in errors (an upload's part name, say).
    case encoded(Data, name: String)
    /// Decoded RGB pixels (any size: resized as the training's evaluation path does).
    case pixels(RGBImage)
}

/// One class and its probability; in JSON `{"class", "index", "probability"}`, as
/// `petal predict --json` and the server write it.
public struct ClassScore: Sendable, Codable, Equatable {
    public var index: Int
    public var className: String
    public var probability: Float

    public init(index: Int, className: String, probability: Float) {
        self.index = index; self.className = className; self.probability = probability
    }

    enum CodingKeys: String, CodingKey { case index, className = "class", probability }
}

/// What the model says about one image: every class's probability and the top classes.
public struct Classification: Sendable, Equatable {
    /// Softmax probabilities in the order of `ImageClassifier.classNames`.
    public var probabilities: [Float]
    /// The `top` most probable classes, most probable first (ties: the lower index first).
    public var top: [ClassScore]

    public init(probabilities: [Float], top: [ClassScore]) {
        self.probabilities = probabilities; self.top = top
    }
}
