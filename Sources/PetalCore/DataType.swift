import CDNNL

/// Element types Petal stores. Float32 is the training type; bfloat16 where oneDNN computes in it;
/// int8 and uint8 in quantized models.
public enum DataType: String, Sendable, Codable {
    case float32, bfloat16, uint8, int32, int8

    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .bfloat16: return 2
        case .uint8, .int8: return 1
        }
    }

    var dnnl: dnnl_data_type_t {
        switch self {
        case .float32: return dnnl_f32
        case .bfloat16: return dnnl_bf16
        case .uint8: return dnnl_u8
        case .int32: return dnnl_s32
        case .int8: return dnnl_s8
        }
    }
}
