import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;

/**
 * Reads Kafka message values as a Connect sink connector does with
 * value.converter=org.apache.kafka.connect.json.JsonConverter and value.converter.schemas.enable=true.
 * Input: one value a line, base64, or "null" for a tombstone. Output: one JSON line a value, with
 * each struct field's Connect type, logical type name, Java class and value (dates as epoch ms),
 * or the converter's error. Run with the Kafka jars: java -cp '.kafka/libs/*' test/kafka/ConnectRead.java
 */
public class ConnectRead {
  public static void main(String[] args) throws Exception {
    JsonConverter converter = new JsonConverter();
    converter.configure(Map.of("schemas.enable", "true"), false);
    ObjectMapper json = new ObjectMapper();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    for (String line; (line = in.readLine()) != null; ) {
      Map<String, Object> o = new LinkedHashMap<>();
      try {
        byte[] bytes = line.equals("null") ? null : Base64.getDecoder().decode(line);
        SchemaAndValue read = converter.toConnectData("topic", bytes);
        if (read.value() == null) {
          o.put("tombstone", true);
        } else {
          Struct struct = (Struct) read.value();
          struct.validate();
          o.put("name", struct.schema().name());
          Map<String, Object> fields = new LinkedHashMap<>();
          for (Field f : struct.schema().fields()) {
            Object v = struct.get(f);
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("type", f.schema().type().toString());
            d.put("logical", f.schema().name());
            d.put("class", v == null ? null : v.getClass().getName());
            d.put("value", v instanceof java.util.Date ? ((java.util.Date) v).getTime() : v);
            fields.put(f.name(), d);
          }
          o.put("fields", fields);
        }
      } catch (Exception e) {
        o.put("error", e.toString());
      }
      out.println(json.writeValueAsString(o));
    }
  }
}
