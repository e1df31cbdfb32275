// Creates a topic with P partitions through Kafka's Admin API, with optional topic configs:
// java -cp "<kafka libs>/*" CreateTopic.java BROKERS TOPIC P [key=value,key=value]
import org.apache.kafka.clients.admin.*;
import java.util.*;
public class CreateTopic {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties(); p.put("bootstrap.servers", a[0]);
    NewTopic topic = new NewTopic(a[1], Integer.parseInt(a[2]), (short)1);
    if (a.length > 3 && !a[3].isEmpty()) {
      Map<String, String> configs = new HashMap<>();
      for (String kv : a[3].split(",")) {
        String[] parts = kv.split("=", 2);
        configs.put(parts[0], parts[1]);
      }
      topic.configs(configs);
    }
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(topic)).all().get();
    }
  }
}
