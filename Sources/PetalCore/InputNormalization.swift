/// How a backbone wants its input pixels: `value * scale + offset` on 0...255 RGB values.
/// It belongs to the backbone (MobileNetV2: x/127.5 - 1; EfficientNet-Lite: (x - 127)/128),
/// and data loaders apply it, so callers never repeat it.
public struct InputNormalization: Codable, Sendable, Equatable {
    public var scale: Float
    public var offset: Float

    public init(scale: Float, offset: Float) {
        self.scale = scale
        self.offset = offset
    }

    /// Keras's `mobilenet_v2.preprocess_input`: to [-1, 1].
    public static let minusOneToOne = InputNormalization(scale: 1 / 127.5, offset: -1)
    /// EfficientNet-Lite's reference preprocessing: (x - 127) / 128.
    public static let efficientNetLite = InputNormalization(scale: 1 / 128, offset: -127 / 128)

    @inline(__always)
    public func apply(_ pixel: UInt8) -> Float { Float(pixel) * scale + offset }

    /// Normalises `count` bytes into floats: the one loop the data loader and inference share,
    /// so a model sees the same numbers in evaluation and in use.
    @inline(__always)
    public func apply(_ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        let s = scale, o = offset
        for i in 0..<count { destination[i] = Float(source[i]) * s + o }
    }
}
